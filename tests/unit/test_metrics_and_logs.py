"""JSON log lines and the escalation counts, as pure parts: the formatter on real records, the
request middleware on a real ASGI call, the publishing side's count on a state that really
escalated (the services' endpoints are tested in tests/intake and tests/e2e)."""

import json
import logging
import sys
from datetime import timedelta

from prometheus_client import REGISTRY
from starlette.types import Receive, Scope, Send

from services.request_log_context import RequestLogContext
from services.workflows.activities import count_published
from shared.domain import lifecycle
from shared.domain.enums import EventKind
from shared.logs import (
    JsonFormatter,
    command_var,
    log_context,
    ticket_var,
    trace_var,
    uvicorn_log_config,
)
from shared.settings import Settings
from tests.builders import T0, ticket_state

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def record(name: str, message: str, args: tuple[object, ...] = ()) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, message, args, None)


def test_a_json_line_has_time_level_logger_message_and_what_it_is_about() -> None:
    with log_context(ticket="100042", command_id="agent:jane:k1", trace_id=TRACE):
        line = json.loads(JsonFormatter().format(record("ticketflow.x", "did %s", ("it",))))
    assert line.pop("time").endswith("+00:00")
    assert line == {
        "level": "INFO",
        "logger": "ticketflow.x",
        "message": "did it",
        "ticket": "100042",
        "command_id": "agent:jane:k1",
        "trace_id": TRACE,
    }
    # Outside the context, no stale ticket.
    assert "ticket" not in json.loads(JsonFormatter().format(record("x", "later")))


def test_a_json_line_masks_addresses_in_its_message_and_exception() -> None:
    try:
        raise ValueError("no mailbox for bob@example.org")
    except ValueError:
        failed = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "mail to %s", ("anna@example.com",), sys.exc_info()
        )
    text = JsonFormatter().format(failed)
    assert "anna@example.com" not in text and "bob@example.org" not in text
    line = json.loads(text)
    assert line["message"] == "mail to [address]" and "[address]" in line["exception"]


def test_the_access_line_keeps_method_path_and_status_but_not_client_or_query() -> None:
    access = record(
        "uvicorn.access",
        '%s - "%s %s HTTP/%s" %d',
        ("203.0.113.7:5000", "GET", "/agent/queues?q=anna@example.com", "1.1", 200),
    )
    text = JsonFormatter().format(access)
    line = json.loads(text)
    assert line["message"] == "GET /agent/queues 200"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/agent/queues", 200)
    assert "203.0.113.7" not in text and "anna" not in text


def test_text_logs_keep_uvicorns_own_configuration() -> None:
    from uvicorn.config import LOGGING_CONFIG

    assert uvicorn_log_config(Settings(log_format="text")) is LOGGING_CONFIG
    config = uvicorn_log_config(Settings(log_format="json"))
    assert config["formatters"]["json"]["()"] is JsonFormatter
    assert config["loggers"]["uvicorn.access"]["propagate"] is True


async def test_a_request_names_its_ticket_and_trace_for_its_log_lines() -> None:
    seen: list[tuple[str | None, str | None, str | None]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((ticket_var.get(), trace_var.get(), command_var.get()))

    async def receive() -> dict[str, object]:
        return {"type": "http.request"}

    async def send(message: dict[str, object]) -> None:
        pass

    middleware = RequestLogContext(app)
    for path, headers in [
        ("/api/v1/tickets/100042/notes", [(b"traceparent", f"00-{TRACE}-00f067aa0ba902b7-01")]),
        ("/t/100043", [(b"traceparent", b"00-" + b"0" * 32 + b"-00f067aa0ba902b7-01")]),
        ("/api/v1/reports/sla", []),
    ]:
        raw = [(k, v.encode() if isinstance(v, str) else v) for k, v in headers]
        scope = {"type": "http", "path": path, "headers": raw}
        await middleware(scope, receive, send)
    assert seen == [("100042", TRACE, None), ("100043", None, None), (None, None, None)]
    assert ticket_var.get() is None and trace_var.get() is None


def test_an_opening_and_an_escalation_are_counted_once_published() -> None:
    state = ticket_state()  # opened by the portal; first response due at T0 + 4 h
    lifecycle.fire_due(state, T0 + timedelta(hours=4))
    [escalated] = [e for e in state.timeline if e.kind is EventKind.ESCALATED]
    assert escalated.detail["due_at"] == (T0 + timedelta(hours=4)).isoformat()
    clock, web = {"clock": "first_response"}, {"source": "web"}
    before = sample("ticketflow_escalations_total", clock)
    late_before = sample("ticketflow_escalation_lateness_seconds_sum", clock)
    opened_before = sample("ticketflow_tickets_created_total", web)
    count_published(state, T0 + timedelta(hours=4, seconds=3))
    assert sample("ticketflow_escalations_total", clock) == before + 1
    assert sample("ticketflow_escalation_lateness_seconds_sum", clock) == late_before + 3
    assert sample("ticketflow_tickets_created_total", web) == opened_before + 1


def sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0
