"""The console's queues over the real intake API, in process, on tickets written straight
into the projection: each view shows its tickets and every view's count, search and filters
narrow them, hostile text stays text, a bulk action sends one command per ticket (each with
its own Idempotency-Key) and says per ticket what became of it, a post without the session's
CSRF token sends nothing, and a viewer sees no actions (and their posts are refused)."""

import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from temporalio.client import Client

from services.intake.app import create_app as create_intake
from services.web.app import create_app as create_web
from services.web.console.queue_rows import QueueTicket, sla_of, span
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import TicketExternalRefRow, TicketRow
from shared.settings import Settings
from tests.web.consoles import PORTAL, TemporalDown

JANE, JOHN, VERA = "dev-jane-token", "dev-john-token", "dev-vera-token"
NOW = datetime.now(UTC).replace(microsecond=0)
HOSTILE_SUBJECT = '<script>alert("s")</script><img src=x onerror=alert(1)>'
HOSTILE_NAME = '"><svg onload=alert(2)> & Co'


def put(database: str, number: str, **fields: Any) -> None:
    """A ticket in the projection: open, normal, unassigned unless `fields` say otherwise."""
    due = fields.pop("next_due_at", NOW + timedelta(hours=3))
    breached = fields.pop("breached_at", None)
    paused = fields.pop("paused", False)
    clocks = [
        {
            "clock": "resolution",
            "due_at": NOW.isoformat(),
            "outcome": "running",
            "paused_since": NOW.isoformat() if paused else None,
            "breached_at": breached.isoformat() if breached else None,
        }
    ]
    row = {
        "number": number,
        "version": 1,
        "subject": f"Ticket {number}",
        "status": "open",
        "priority": "normal",
        "source": "web",
        "requester_name": "Ann Requester",
        "requester_email": f"ann{number}@example.com",
        "help_topic": "online-banking",
        "department": "online-banking",
        "team": None,
        "assignee": None,
        "sla_plan": "default",
        "first_response_due": None,
        "resolution_due": None,
        "next_due_at": due,
        "overdue": breached is not None,
        "escalation_level": 0,
        "created_at": NOW - timedelta(hours=1),
        "updated_at": NOW - timedelta(minutes=5),
        **fields,
    }
    row["state"] = {
        "clocks": clocks,
        "next_due_at": due.isoformat() if due else None,
    }
    engine = make_engine(database)
    with make_sessionmaker(engine).begin() as session:
        session.add(TicketRow(**row))
    engine.dispose()


@pytest.fixture
def tickets(database: str) -> None:
    put(database, "100001", subject="Online banking down")  # unassigned
    put(database, "100002", assignee="john", team="online-banking", priority="high")
    put(database, "100003", assignee="jane", status="pending", next_due_at=None, paused=True)
    put(database, "100004", breached_at=NOW - timedelta(minutes=25), next_due_at=None)
    put(database, "100005", next_due_at=NOW + timedelta(minutes=20), priority="emergency")
    put(database, "100006", status="resolved", assignee="john", next_due_at=None)
    put(database, "100007", status="closed", assignee="jane", next_due_at=None)
    put(
        database,
        "100008",
        subject=HOSTILE_SUBJECT,
        requester_name=HOSTILE_NAME,
        team='<b>team</b>"',
        assignee="john",
    )
    engine = make_engine(database)
    with make_sessionmaker(engine).begin() as session:
        session.add(TicketExternalRefRow(system="jira", ref_id="OPS-12", ticket="100002"))
    engine.dispose()


class Commands(httpx.AsyncBaseTransport):
    """Intake in process, but the tickets' commands answered here (Temporal is down in these
    tests): applied, or refused as the API refuses a closed ticket's. Every one is kept."""

    def __init__(self, intake: FastAPI, refused: set[str]) -> None:
        self._intake = httpx.ASGITransport(app=intake)
        self.refused = refused
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        found = re.fullmatch(r"/api/v1/tickets/(\d+)/(\w+)", request.url.path)
        if request.method == "POST" and found:
            self.sent.append(request)
            if found.group(1) in self.refused:
                detail = {"detail": f"ticket {found.group(1)} is closed: reopen it first"}
                return httpx.Response(409, json=detail)
            return httpx.Response(200, json={"number": found.group(1)})
        return await self._intake.handle_async_request(request)


@pytest.fixture
def commands(settings: Settings) -> Commands:
    down: Any = TemporalDown()
    temporal: Client = down
    return Commands(create_intake(settings, temporal=temporal), refused={"100007"})


@pytest.fixture
def console(settings: Settings, commands: Commands, tickets: None) -> Iterator[TestClient]:
    intake: FastAPI = commands._intake.app  # type: ignore[assignment]
    web = create_web(settings, transport=commands)
    web_lifespan = web.router.lifespan_context

    @asynccontextmanager
    async def both(app: FastAPI) -> AsyncIterator[None]:
        async with intake.router.lifespan_context(intake), web_lifespan(app):
            yield

    web.router.lifespan_context = both
    with TestClient(
        web, base_url=PORTAL, raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


def signed_in(client: TestClient, token: str) -> TestClient:
    client.cookies.set("tf_agent", token, domain="portal.test", path="/agent")
    return client


def rows(html: str) -> list[str]:
    return re.findall(r'<tr data-number="(\d+)"', html)


def counts(html: str) -> dict[str, str]:
    found = re.findall(
        r'<span class="view-name">([^<]+)</span>\s*<span class="count">([^<]+)<', html
    )
    return {unescape(name): count for name, count in found}


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def test_each_view_shows_its_tickets_and_every_views_count(console: TestClient) -> None:
    jane = signed_in(console, JANE)
    page = jane.get("/agent?view=unassigned")
    assert page.status_code == 200, page.text
    assert rows(page.text) == ["100004", "100005", "100001"]  # breached, then the soonest due
    assert counts(page.text) == {
        "My tickets": "1",
        "My teams'": "1",  # Jane is in the Online Banking team (100002's)
        "Unassigned": "3",
        "Overdue": "1",
        "Breaching soon": "1",
        "Pending": "1",
        "Resolved": "1",
        "All open": "6",
        "Closed": "1",
    }
    current = re.findall(r'aria-current="page">\s*<span class="view-name">([^<]+)<', page.text)
    assert current == ["Unassigned"]
    assert rows(jane.get("/agent?view=mine").text) == ["100003"]
    assert rows(jane.get("/agent?view=breaching").text) == ["100005"]
    assert rows(jane.get("/agent?view=overdue").text) == ["100004"]
    assert rows(jane.get("/agent?view=closed").text) == ["100007"]
    # An agent starts with their own tickets.
    assert rows(signed_in(console, JOHN).get("/agent").text) == ["100002", "100008"]


def test_the_sla_and_the_priority_are_in_words(console: TestClient) -> None:
    page = signed_in(console, JANE).get("/agent?view=open&sort=number").text
    row = {
        number: part for number, part in re.findall(r'data-number="(\d+)"(.*?)</tr>', page, re.S)
    }
    # Seeded when the module began: a loaded machine may take many minutes to get here, so
    # the words are checked, not the minutes.
    assert re.search(r">due in [12] h \d+ min<", row["100001"]), row["100001"]
    assert re.search(r">(due in \d+ min|breached \d+ min ago)<", row["100005"]), row["100005"]
    assert ">Emergency<" in row["100005"]
    assert re.search(r">breached (\d+ h )?\d+ min ago<", row["100004"]), row["100004"]
    assert ">paused<" in row["100003"] and ">Pending<" in row["100003"]
    assert ">High<" in row["100002"] and "online-banking" in row["100002"]
    assert re.search(r">(\d+ h )?\d+ min ago<", row["100001"]), row["100001"]


def test_search_filters_and_sort(console: TestClient) -> None:
    jane = signed_in(console, JANE)
    assert rows(jane.get("/agent", params={"view": "open", "q": "100004"}).text) == ["100004"]
    found = jane.get("/agent", params={"view": "open", "q": "ann100005@example"}).text
    assert rows(found) == ["100005"]
    assert rows(jane.get("/agent", params={"view": "open", "q": "jira:OPS-12"}).text) == ["100002"]
    assert rows(jane.get("/agent", params={"view": "open", "q": "banking down"}).text) == ["100001"]
    narrowed = {"view": "open", "priority": "emergency"}
    assert rows(jane.get("/agent", params=narrowed).text) == ["100005"]
    assert rows(jane.get("/agent", params={"view": "open", "assignee": "john"}).text) == [
        "100002",
        "100008",
    ]
    assert rows(jane.get("/agent", params={"view": "open", "status": "pending"}).text) == ["100003"]
    # A filter outside the view: nothing, without asking the API.
    nothing = jane.get("/agent", params={"view": "closed", "status": "open"}).text
    assert rows(nothing) == [] and "No tickets here that match the search." in nothing
    by_number = jane.get("/agent", params={"view": "open", "sort": "number", "order": "desc"})
    assert rows(by_number.text) == ["100008", "100005", "100004", "100003", "100002", "100001"]
    assert 'aria-sort="descending"><a href="/agent?view=open&amp;sort=number&amp;order=asc"' in (
        by_number.text
    )
    assert jane.get("/agent", params={"view": "nonsense"}).status_code == 404


def test_hostile_subjects_and_names_stay_text(console: TestClient) -> None:
    page = signed_in(console, JOHN).get("/agent?view=mine").text
    for hostile in (HOSTILE_SUBJECT, HOSTILE_NAME, '<b>team</b>"'):
        assert hostile not in page
    assert "&lt;script&gt;alert(&#34;s&#34;)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;svg onload=alert(2)&gt; &amp; Co" in page
    assert "<script>" not in page.split("</head>")[1]


def test_a_bulk_action_sends_each_ticket_its_own_command_and_reports_each(
    console: TestClient, commands: Commands
) -> None:
    jane = signed_in(console, JANE)
    token = csrf(jane.get("/agent?view=open").text)
    form = {
        "csrf_token": token,
        "bulk_key": "k" * 24,
        "back": "view=open&sort=number",
        "action": "assign",
        "agent": "john",
        "team": "",
        "ticket": ["100001", "100007", "100004"],
    }
    answer = jane.post("/agent/bulk", data=form)
    assert answer.status_code == 200, answer.text
    sent = {r.url.path.split("/")[4]: r for r in commands.sent}
    assert set(sent) == {"100001", "100007", "100004"}
    assert all(r.url.path.endswith("/assign") for r in sent.values())
    assert all(json.loads(r.content) == {"agent": "john"} for r in sent.values())
    keys = {r.headers["Idempotency-Key"] for r in sent.values()}
    assert len(keys) == 3
    assert all(r.headers["Authorization"] == f"Bearer {JANE}" for r in sent.values())
    results = answer.text.split('id="bulk-results"')[1].split("</div>")[0]
    assert "2 of 3 applied, 1 refused" in results
    assert re.search(r"100001</a>: applied", results)
    assert re.search(r"100004</a>: applied", results)
    assert "100007</a>: refused: ticket 100007 is closed: reopen it first" in results
    assert rows(answer.text)[:2] == ["100001", "100002"]  # the list it came from, again
    # The same form again (a double click): the same keys, so the API answers as before.
    commands.sent.clear()
    jane.post("/agent/bulk", data=form)
    assert {r.headers["Idempotency-Key"] for r in commands.sent} == keys


def test_a_bulk_action_without_what_it_needs_sends_nothing(
    console: TestClient, commands: Commands
) -> None:
    jane = signed_in(console, JANE)
    token = csrf(jane.get("/agent").text)
    base = {"csrf_token": token, "back": "view=open", "ticket": ["100001"]}
    for form, words in (
        ({**base, "action": "assign"}, "Name an agent or a team"),
        ({**base, "action": "priority", "priority": "urgent"}, "Choose a priority."),
        ({**base, "action": "transfer"}, "Name the department"),
        ({"csrf_token": token, "action": "close"}, "Select the tickets first"),
    ):
        answer = jane.post("/agent/bulk", data=form)
        assert answer.status_code == 422 and words in answer.text, answer.text
    assert commands.sent == []


def test_a_bulk_post_without_the_sessions_csrf_token_is_refused(
    console: TestClient, commands: Commands
) -> None:
    jane = signed_in(console, JANE)
    jane.get("/agent")
    form = {"action": "close", "ticket": ["100001"], "back": "view=open"}
    for token in ({}, {"csrf_token": "forged"}):
        answer = jane.post("/agent/bulk", data={**form, **token})
        assert answer.status_code == 403
        assert "This form has expired" in answer.text
    assert commands.sent == []


def test_a_viewer_sees_no_actions_and_their_bulk_posts_are_refused(
    console: TestClient, commands: Commands
) -> None:
    vera = signed_in(console, VERA)
    page = vera.get("/agent")
    assert page.status_code == 200
    assert rows(page.text) == ["100004", "100005", "100001", "100002", "100008", "100003"]
    for action in ('name="ticket"', 'id="bulk"', "Apply to the selected tickets", "select-all"):
        assert action not in page.text
    form = {"csrf_token": csrf(page.text), "action": "close", "ticket": ["100001"]}
    answer = vera.post("/agent/bulk", data=form)
    assert answer.status_code == 403 and "Viewers may read tickets" in answer.text
    assert commands.sent == []


def test_the_live_script_fetches_rows_and_counts_alone(console: TestClient) -> None:
    jane = signed_in(console, JANE)
    part = jane.get("/agent?view=unassigned", headers={"X-Queue-Part": "rows"})
    assert part.status_code == 200
    assert "<html" not in part.text and 'id="queue-results"' in part.text
    assert 'id="queue-views"' in part.text and rows(part.text) == ["100004", "100005", "100001"]
    assert 'data-unassigned="true"' in part.text and 'data-statuses="open pending"' in part.text
    only = jane.get("/agent?view=unassigned", headers={"X-Queue-Part": "counts"}).text
    assert 'id="queue-views"' in only and "queue-results" not in only


def test_the_page_follows_the_feed_from_before_it_read_the_rows(console: TestClient) -> None:
    page = signed_in(console, JANE).get("/agent").text
    found = re.search(r'sse-connect="/agent/live\?after=([A-Za-z0-9_-]+)"', page)
    assert found, "no live stream on the page"
    assert 'hx-ext="sse"' in page and "/static/vendor/htmx-ext-sse/sse.min.js" in page
    assert "/static/console-queues.js" in page and "<script>" not in page


def test_a_boosted_arrival_loads_the_whole_page(console: TestClient) -> None:
    answer = signed_in(console, JANE).get(
        "/agent?view=mine", headers={"HX-Request": "true", "HX-Boosted": "true"}
    )
    assert answer.headers["HX-Redirect"] == f"{PORTAL}/agent?view=mine"


def test_without_a_session_the_queues_send_to_sign_in_and_live_says_no_content(
    console: TestClient,
) -> None:
    answer = console.get("/agent?view=open")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/agent/sign-in?next=/agent")
    assert console.get("/agent/live").status_code == 204
    console.cookies.set("tf_agent", "revoked", domain="portal.test", path="/agent")
    assert console.get("/agent/live").status_code == 204


def test_durations_read_as_people_say_them() -> None:
    assert span(30) == "under a minute"
    assert span(25 * 60 + 59) == "25 min"
    assert span(72 * 60) == "1 h 12 min"
    assert span(3 * 3600) == "3 h"
    assert span(51 * 3600) == "2 d 3 h"
    ticket = QueueTicket.model_validate(
        {
            "number": "100001",
            "subject": "s",
            "status": "resolved",
            "priority": "low",
            "requester": {"name": "a", "email": "a@example.com"},
            "help_topic": "t",
            "department": "d",
            "team": None,
            "assignee": None,
            "overdue": False,
            "updated_at": NOW.isoformat(),
            "next_due_at": (NOW + timedelta(hours=1)).isoformat(),
        }
    )
    assert sla_of(ticket, NOW).words == "no clock running"
    assert sla_of(ticket.model_copy(update={"status": "open"}), NOW).words == "due in 1 h"


def test_the_queues_say_so_when_the_api_cannot_be_reached(settings: Settings) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    web = create_web(settings, transport=httpx.MockTransport(refused))
    with TestClient(web, base_url=PORTAL, raise_server_exceptions=False) as client:
        answer = signed_in(client, JANE).get("/agent?view=open")
    assert answer.status_code == 503
    assert "The queues cannot be shown just now" in answer.text
