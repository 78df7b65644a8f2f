"""Traces of the real stack, every service a process of its own, exporting by OTLP/HTTP to a
receiver in this test: a command is one trace from intake's HTTP request through the Temporal
update, its handling in the workflow and the publishing activity, to notify's delivery of the
mail it queued and of the webhooks of its events; a mail to mail-in and the portal's calls
of the API are each one trace too; and no span names the requester, quotes the subject, or
keeps a query string."""

import json
import secrets
import smtplib
import uuid
from collections.abc import Iterator

import httpx
import pytest

from services.devstack import Stack
from tests.builders import mail
from tests.e2e.conftest import JANE, eventually, open_ticket, started_stack
from tests.otlp_receiver import ReceivedSpan, TraceReceiver, trace_receiver
from tests.processes import family, wait_gone
from tests.webhook_receiver import Receiver

pytestmark = pytest.mark.e2e

EMAIL = "alice@example.com"
SERVER, CLIENT, CONSUMER = 2, 3, 5  # the OTLP span kinds


@pytest.fixture(scope="module")
def hooks() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="module")
def traced(
    tmp_path_factory: pytest.TempPathFactory, hooks: Receiver
) -> Iterator[tuple[Stack, TraceReceiver]]:
    var = tmp_path_factory.mktemp("stack-traces")
    with trace_receiver() as receiver:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # milliseconds: spans go out at once
            "LOG_FORMAT": "json",
        }
        with started_stack("sqlite", var, extra_env=env) as stack:
            body = {"handle": "traced", "url": hooks.url}
            subscribed = httpx.post(
                f"{stack.intake_url}/api/v1/admin/webhooks", json=body, headers=JANE, timeout=30
            )
            assert subscribed.status_code == 201, subscribed.text
            yield stack, receiver
            started = set().union(*(family(proc.pid) for proc in stack.procs.values()))
        # Every process of the stack is gone: none hangs on its exporter as it stops.
        assert not wait_gone(started, timeout=20), "a process of the stack outlived it"


def traceparent() -> tuple[str, str, dict[str, str]]:
    """A trace id and span id of this test's own, and the header that makes them the
    parent of what a service does for the request."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, {"traceparent": f"00-{trace_id}-{span_id}-01"}


def one(spans: list[ReceivedSpan], service: str, name: str, parent: str) -> ReceivedSpan:
    found = [s for s in spans if s.service == service and s.name.startswith(name)]
    assert len(found) == 1, (service, name, [(s.service, s.name) for s in spans])
    assert found[0].parent_id == parent, (found[0].name, spans)
    return found[0]


def test_a_reply_is_one_trace_from_the_request_to_its_mail(
    traced: tuple[Stack, TraceReceiver],
) -> None:
    stack, receiver = traced
    with httpx.Client(base_url=stack.intake_url, timeout=30) as api:
        subject = f"printer {uuid.uuid4().hex[:6]} jams"
        number = open_ticket(api, subject)["number"]
        trace_id, caller, header = traceparent()
        reply = api.post(
            f"/api/v1/tickets/{number}/replies",
            json={"message": "Have you tried turning it off and on again?"},
            headers={**JANE, **header},
            params={"email": EMAIL},  # a query string the spans must not keep
        )
        assert reply.status_code == 200, reply.text

    def delivered() -> list[ReceivedSpan] | None:
        spans = receiver.trace(trace_id)
        names = {s.name for s in spans if s.service == "ticketflow-notify"}
        return spans if {"deliver notification", "deliver webhook"} <= names else None

    spans = eventually(delivered, timeout=30, what="notify's deliveries in the reply's trace")
    request = one(spans, "ticketflow-intake", "POST /api/v1/tickets/{number}/replies", caller)
    assert request.kind == SERVER
    assert request.attributes["http.route"] == "/api/v1/tickets/{number}/replies"
    assert "?" not in request.attributes["http.url"]
    update = one(spans, "ticketflow-intake", "StartWorkflowUpdate:", request.span_id)
    assert update.kind == CLIENT
    one(spans, "ticketflow-worker", "ValidateUpdate:", update.span_id)
    handled = one(spans, "ticketflow-worker", "HandleUpdate:", update.span_id)
    started = one(spans, "ticketflow-worker", "StartActivity:publish_ticket", handled.span_id)
    published = one(spans, "ticketflow-worker", "RunActivity:publish_ticket", started.span_id)
    delivery = one(spans, "ticketflow-notify", "deliver notification", published.span_id)
    assert delivery.kind == CONSUMER
    assert delivery.attributes["ticketflow.ticket"] == number
    assert delivery.attributes["ticketflow.outcome"] == "sent"
    webhooks = [s for s in spans if s.name == "deliver webhook"]
    assert all(s.parent_id == published.span_id for s in webhooks), webhooks
    assert all(s.attributes["http.status_code"] == 200 for s in webhooks), webhooks
    assert {s.service for s in spans} == {
        "ticketflow-intake",
        "ticketflow-worker",
        "ticketflow-notify",
    }
    assert_no_person(receiver, subject)


def test_the_portals_calls_of_the_api_join_its_requests_trace(
    traced: tuple[Stack, TraceReceiver],
) -> None:
    stack, receiver = traced
    trace_id, caller, header = traceparent()
    page = httpx.get(
        f"{stack.web_url}/", params={"k": "sekrit-link-credential"}, headers=header, timeout=30
    )
    assert page.status_code == 200, page.text

    def both() -> list[ReceivedSpan] | None:
        spans = receiver.trace(trace_id)
        return (
            spans if {s.service for s in spans} >= {"ticketflow-web", "ticketflow-intake"} else None
        )

    spans = eventually(both, what="the portal's and intake's spans")
    portal = one(spans, "ticketflow-web", "GET /", caller)
    one(spans, "ticketflow-intake", "GET /api/v1/help-topics", portal.span_id)
    assert all("sekrit" not in text for span in receiver.spans() for text in span.texts)


def test_a_log_line_names_the_trace_of_its_span(traced: tuple[Stack, TraceReceiver]) -> None:
    stack, receiver = traced
    with httpx.Client(base_url=stack.intake_url, timeout=30) as api:
        number = open_ticket(api, f"screen {uuid.uuid4().hex[:6]} flickers")["number"]
        read = api.get(f"/api/v1/tickets/{number}", params={"requester": EMAIL}, headers=JANE)
        assert read.status_code == 200, read.text
    path = f"/api/v1/tickets/{number}"

    def span_of_the_read() -> list[ReceivedSpan]:
        return [
            s
            for s in receiver.spans()
            if s.service == "ticketflow-intake" and s.attributes.get("http.target") == path
        ]

    (span,) = eventually(span_of_the_read, what="the read's span")
    assert span.parent_id == "" and "?" not in span.attributes["http.url"]
    lines = [json.loads(line) for line in (stack.var / "intake.log").read_text().splitlines()]
    access = [e for e in lines if e["logger"] == "uvicorn.access" and e.get("path") == path]
    assert [e.get("trace_id") for e in access] == [span.trace_id]
    assert_no_person(receiver, None)


def test_a_mail_is_one_trace_from_its_receipt_to_its_ticket(
    traced: tuple[Stack, TraceReceiver],
) -> None:
    stack, receiver = traced
    subject = f"router {uuid.uuid4().hex[:6]} blinks"
    with smtplib.SMTP("127.0.0.1", stack.mail_in_port, timeout=30) as smtp:
        smtp.send_message(mail(sender=EMAIL, subject=subject))

    def received() -> list[ReceivedSpan]:
        return [s for s in receiver.spans() if s.name == "receive mail"]

    (receipt,) = eventually(received, what="mail-in's span")
    assert receipt.service == "ticketflow-mail-in" and receipt.parent_id == ""
    assert receipt.attributes["ticketflow.outcome"] == "created"
    spans = eventually(
        lambda: [s for s in receiver.trace(receipt.trace_id) if s.name.startswith("RunActivity")],
        what="the new ticket's publish in the mail's trace",
    )
    assert spans[0].service == "ticketflow-worker"
    one(receiver.trace(receipt.trace_id), "ticketflow-mail-in", "StartWorkflow:", receipt.span_id)
    assert_no_person(receiver, subject)


def assert_no_person(receiver: TraceReceiver, subject: str | None) -> None:
    """No span of any service holds the requester's address or the ticket's subject."""
    spans = receiver.spans()
    assert spans
    for span in spans:
        for text in span.texts:
            assert EMAIL not in text and "alice%40example.com" not in text, (span.name, text)
            assert subject is None or subject not in text, (span.name, text)
