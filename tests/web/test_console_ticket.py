"""The console's ticket page over the real intake API, in process: internal notes set apart,
hostile text shown as text, CSRF, a viewer's page and posts, a stale send (412) that keeps
the draft and shows what came in, refusals in words beside their fields; and the presence
registry with its stream.

Temporal here holds no running workflow and cannot start one: intake reads tickets from the
projection (tests.builders.seed_ticket writes them) and judges a command against the stored
state before it would start the workflow again, so a stale If-Match is refused there (412)
and any other command answers 503, nothing saved."""

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from services.intake.app import create_app as create_intake
from services.web.console.presence import LEAVE_GRACE, TYPING_TTL, VIEW_TTL, Presence
from services.web.console.ticket_data import Clock
from services.web.console.ticket_words import clock_words
from services.workflows.activities import TicketActivities
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.projection import stored_state
from shared.db.tables import MessageBodyRow
from shared.domain import lifecycle
from shared.domain.enums import Action, ClockOutcome, SlaClock
from shared.domain.models import ExternalRef, PublishBatch
from shared.settings import Settings
from tests.builders import cmd, seed_ticket
from tests.web.consoles import PORTAL, csrf_of, portal_app

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> javascript:alert(1)'
JANE, JOHN, VERA = "dev-jane-token", "dev-john-token", "dev-vera-token"
NUMBER = "100001"


class WorkflowsGone:
    """A Temporal with no running workflow that cannot start one: reads fall back to the
    projection; a command is checked against the stored state (If-Match included), then
    fails to start (503)."""

    def get_workflow_handle_for(self, *_: object, **__: object) -> "WorkflowsGone":
        return self

    async def execute_update_with_start_workflow(self, *_: object, **__: object) -> NoReturn:
        raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")

    def __getattr__(self, name: str) -> Any:
        async def gone(*_: object, **__: object) -> NoReturn:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")

        return gone


@pytest.fixture
def console(settings: Settings) -> Iterator[TestClient]:
    settings = settings.model_copy(update={"temporal_ui_url": "http://temporal.test:8233/"})
    gone: Any = WorkflowsGone()
    temporal: Client = gone
    web = portal_app(settings, create_intake(settings, temporal=temporal))
    web.state.presence = Presence(stream_seconds=0.3)
    with TestClient(
        web, base_url=PORTAL, raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


def as_agent(client: TestClient, token: str) -> TestClient:
    client.cookies.set("tf_agent", token, domain="portal.test", path="/agent")
    return client


def hidden(html: str, form_id: str, name: str) -> str:
    form = re.search(rf'<form [^>]*id="{form_id}".*?</form>', html, re.S)
    assert form, f"no form {form_id}"
    found = re.search(rf'name="{name}" value="([^"]*)"', form.group(0))
    assert found, f"no {name} in {form_id}"
    return found.group(1)


def entries(html: str) -> list[tuple[str, str]]:
    """The thread's entries: (classes, inner html)."""
    return re.findall(
        r'<li class="(entry [^"]*)"[^>]*>(.*?)</li>\s*(?=<li class="entry|</ol>)', html, re.S
    )


def composer_form(html: str, **changes: str) -> dict[str, str]:
    fields = {
        name: hidden(html, "composer-form", name)
        for name in ("csrf_token", "form_key", "version", "seen")
    }
    return {**fields, "kind": "reply", "then": "send", "message": "", **changes}


def republish(database: str, number: str, change: Any) -> None:
    """The ticket's stored state changed by `change`, published as the workflow would."""
    engine = make_engine(database)
    sessions = make_sessionmaker(engine)
    try:
        with sessions() as session:
            state = stored_state(session, number)
        assert state is not None
        change(state)
        TicketActivities(sessions).publish_ticket(PublishBatch(state=state, notices=[]))
    finally:
        engine.dispose()


def test_internal_notes_are_labelled_and_set_apart(console: TestClient, database: str) -> None:
    seed_ticket(database, NUMBER, responses=("We are on it.",), notes=("Vendor bug: keep quiet",))
    page = as_agent(console, JOHN).get(f"/agent/tickets/{NUMBER}")
    assert page.status_code == 200, page.text
    kinds = {classes.split()[1]: inner for classes, inner in entries(page.text)}
    assert set(kinds) == {"entry-message", "entry-response", "entry-note"}
    note = kinds["entry-note"]
    assert "Internal note" in note and "Agents only" in note and "Vendor bug" in note
    assert "Public reply" in kinds["entry-response"]
    assert "Internal note" not in kinds["entry-response"] + kinds["entry-message"]
    # Times are relative, with the exact time in the title and the <time> element.
    assert re.search(
        r'<time datetime="[^"]+" title="[^"]+ UTC" data-relative>just now</time>', note
    )
    assert "Open in Temporal UI" in page.text
    assert f'href="http://temporal.test:8233/namespaces/default/workflows/ticket-{NUMBER}"' in (
        page.text
    )


def test_any_writing_agent_gets_the_desks_names_to_assign_and_transfer(
    console: TestClient, database: str
) -> None:
    """John is no admin: the assign and transfer fields still suggest the desk's agents (not
    the viewer), teams and departments, from the API's directory."""
    seed_ticket(database, NUMBER)
    page = as_agent(console, JOHN).get(f"/agent/tickets/{NUMBER}").text
    agents = re.search(r'<datalist id="agents-list">(.*?)</datalist>', page, re.S)
    assert agents is not None
    assert 'value="jane"' in agents[1] and 'value="john"' in agents[1]
    assert 'value="vera"' not in agents[1]
    assert '<datalist id="teams-list"><option' in page
    assert '<datalist id="departments-list"><option' in page


def test_the_requesters_other_tickets_are_theirs_exactly(
    console: TestClient, database: str
) -> None:
    seed_ticket(database, NUMBER)
    seed_ticket(database, "100002", subject="Scanner jammed", email="ANN@example.com")
    seed_ticket(database, "100003", subject="Not hers", email="joann@example.com")
    page = as_agent(console, JOHN).get(f"/agent/tickets/{NUMBER}").text
    others = re.search(r'<ul class="other-tickets">(.*?)</ul>', page, re.S)
    assert others is not None
    assert "100002: Scanner jammed" in others[1]
    assert "100003" not in others[1] and f"{NUMBER}:" not in others[1]


def test_an_unknown_ticket_or_no_agent_is_answered_in_words(console: TestClient) -> None:
    signed_out = console.get(f"/agent/tickets/{NUMBER}")
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == f"/agent/sign-in?next=/agent/tickets/{NUMBER}"
    missing = as_agent(console, JOHN).get("/agent/tickets/999999")
    assert missing.status_code == 404 and "There is no such ticket." in missing.text


def test_hostile_text_in_every_user_field_is_shown_as_text(
    console: TestClient, database: str
) -> None:
    seed_ticket(
        database,
        NUMBER,
        subject=HOSTILE,
        name=HOSTILE,
        message=HOSTILE,
        responses=(HOSTILE,),
        notes=(HOSTILE,),
    )
    seed_ticket(database, "100002", subject=f"Other {HOSTILE}", name=HOSTILE)

    def link_hostile_refs(state: Any) -> None:
        ref = ExternalRef(system="jira", id=HOSTILE, url="https://jira.test/?q=%22%3E")
        lifecycle.apply(state, cmd(Action.LINK, external_ref=ref), datetime.now(UTC))
        # Stored before today's input rules, say: a link the page must not follow.
        state.external_refs.append(ExternalRef(system="crm", id="C-1", url="javascript:alert(1)"))
        state.version += 1

    republish(database, NUMBER, link_hostile_refs)
    html = as_agent(console, JANE).get(f"/agent/tickets/{NUMBER}").text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert not re.search(r'href="\s*javascript:', html, re.IGNORECASE)
    escaped = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
    # Subject (title and heading), requester, three entries, the other ticket, the reference
    # (listed, on the timeline, in its unlink button), the requester on the timeline.
    assert html.count(escaped) >= 10
    assert '<a href="https://jira.test/?q=%22%3E" rel="noopener nofollow">jira:' in html
    assert "<span>crm:C-1</span>" in html
    assert '<a href="/agent/tickets/100002">100002: Other &lt;script&gt;' in html


def test_a_post_without_the_sessions_csrf_token_is_refused(
    console: TestClient, database: str
) -> None:
    seed_ticket(database, NUMBER)
    page = as_agent(console, JANE).get(f"/agent/tickets/{NUMBER}").text
    form = composer_form(page, message="Sent without a token")
    del form["csrf_token"]
    refused = console.post(f"/agent/tickets/{NUMBER}/messages", data=form)
    assert refused.status_code == 403 and "Nothing was sent" in refused.text
    other = as_agent(TestClient(console.app, base_url=PORTAL), JANE)
    foreign = csrf_of(other.get("/status").text)  # another browser's session
    for path in ("messages", "actions/assign-me", "actions/close", "presence"):
        answer = console.post(
            f"/agent/tickets/{NUMBER}/{path}", data={**form, "csrf_token": foreign}
        )
        assert answer.status_code == 403, path
    engine = make_engine(database)
    try:
        with make_sessionmaker(engine)() as session:
            bodies = session.scalars(select(MessageBodyRow.body)).all()
    finally:
        engine.dispose()
    assert "Sent without a token" not in bodies  # intake never heard of it


def test_a_viewer_sees_no_actions_and_their_posts_are_refused_in_words(
    console: TestClient, database: str
) -> None:
    seed_ticket(database, NUMBER, notes=("Seen by viewers too",))
    page = as_agent(console, VERA).get(f"/agent/tickets/{NUMBER}")
    assert page.status_code == 200
    assert "Seen by viewers too" in page.text
    assert "/actions/" not in page.text and 'id="composer-form"' not in page.text
    assert "Your role (viewer) may not reply to it or change it" in page.text
    token = csrf_of(page.text)
    common = {"csrf_token": token, "form_key": uuid.uuid4().hex, "version": "1", "seen": "1"}
    reply = console.post(
        f"/agent/tickets/{NUMBER}/messages", data={**common, "message": "Let me answer"}
    )
    assert reply.status_code == 403
    assert "Not allowed: viewers may read but not change anything. Nothing was sent." in reply.text
    assign = console.post(f"/agent/tickets/{NUMBER}/actions/assign-me", data=common)
    assert assign.status_code == 403
    assert "Not allowed: viewers may read but not change anything." in assign.text


def test_a_stale_send_keeps_the_draft_and_shows_the_new_entry(
    console: TestClient, database: str
) -> None:
    seed_ticket(database, NUMBER)
    page = as_agent(console, JANE).get(f"/agent/tickets/{NUMBER}").text
    draft = f"My answer {HOSTILE}"
    form = composer_form(page, message=draft)
    # John answers while Jane writes: the ticket moves on to the next version.
    seed_ticket(database, NUMBER, responses=("John was first",))
    stale = console.post(f"/agent/tickets/{NUMBER}/messages", data=form)
    assert stale.status_code == 412
    assert (
        "The ticket changed while you wrote: read the new entries above, then send again."
        in stale.text
    )
    new = [inner for classes, inner in entries(stale.text) if "entry-new" in classes]
    assert len(new) == 1 and "John was first" in new[0]
    assert "New since you started writing" in new[0]
    kept = re.search(r'<textarea id="composer-message"[^>]*>\n(.*?)</textarea>', stale.text, re.S)
    assert kept and kept.group(1) == draft.replace("<", "&lt;").replace(">", "&gt;").replace(
        '"', "&#34;"
    )
    assert hidden(stale.text, "composer-form", "version") != form["version"]
    # Sent again, over the version now seen: past If-Match, and not sent (Temporal is away).
    again = composer_form(stale.text, message=draft)
    unsent = console.post(f"/agent/tickets/{NUMBER}/messages", data=again)
    assert unsent.status_code == 503
    assert "Not sent: nothing was saved. Please send it again." in unsent.text
    assert "My answer &lt;script&gt;" in unsent.text


def test_refusals_sit_beside_their_fields_with_the_typed_text(
    console: TestClient, database: str
) -> None:
    seed_ticket(database, NUMBER)
    page = as_agent(console, JANE).get(f"/agent/tickets/{NUMBER}").text
    common = {name: hidden(page, "action-assign", name) for name in ("csrf_token", "version")}
    nobody = console.post(
        f"/agent/tickets/{NUMBER}/actions/assign",
        data={**common, "form_key": uuid.uuid4().hex, "agent": "", "team": ""},
    )
    assert nobody.status_code == 422
    assert re.search(r'id="assign-agent"[^>]*aria-invalid="true"', nobody.text)
    assert '<p class="field-error" id="assign-agent-error">Name an agent or a team' in nobody.text
    unknown = console.post(
        f"/agent/tickets/{NUMBER}/actions/assign",
        data={**common, "form_key": uuid.uuid4().hex, "agent": "nobody", "team": ""},
    )
    assert unknown.status_code == 404
    nothing = console.post(f"/agent/tickets/{NUMBER}/actions/explode", data=common)
    assert nothing.status_code == 404 and "Page not found" in nothing.text
    assert "Not done: agent &#39;nobody&#39; not found." in unknown.text
    assert 'id="assign-agent" name="agent" autocomplete="off" value="nobody"' in unknown.text
    late = console.post(
        f"/agent/tickets/{NUMBER}/messages",
        data=composer_form(page, message="Wait for me", then="pending", remind_at="soon"),
    )
    assert late.status_code == 422 and "Give a date and a time" in late.text
    assert "Wait for me</textarea>" in late.text


def test_the_presence_stream_shows_who_else_views_and_writes(
    console: TestClient, database: str
) -> None:
    seed_ticket(database, NUMBER)
    page = as_agent(console, JANE).get(f"/agent/tickets/{NUMBER}").text
    headers = {"X-CSRF-Token": csrf_of(page)}
    typing = {"tab": "jane-tab-1", "state": "typing", "kind": "note"}
    answer = console.post(f"/agent/tickets/{NUMBER}/presence", data=typing, headers=headers)
    assert answer.status_code == 204
    stream = as_agent(console, JOHN).get(f"/agent/tickets/{NUMBER}/presence?tab=john-tab-1")
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert "event: presence\n" in stream.text
    assert '{"name":"Jane Doe","handle":"jane","typing":"note"}' in stream.text


def test_presence_marks_lapse_and_a_page_that_leaves_stops_writing_at_once() -> None:
    now = [1000.0]
    presence = Presence(lambda: now[0])
    presence.viewing(NUMBER, "tab-jane-1", "jane", "Jane Doe")
    presence.typing(NUMBER, "tab-john-1", "john", "John Smith", "reply")
    presence.viewing(NUMBER, "tab-john-2", "john", "John Smith")
    assert [(w.name, w.typing) for w in presence.others(NUMBER, "jane")] == [
        ("John Smith", "reply")
    ]
    # Nobody may speak for another's page.
    presence.typing(NUMBER, "tab-john-1", "jane", "Jane Doe", None)
    presence.leave(NUMBER, "tab-john-1", "jane")
    assert presence.others(NUMBER, "jane")[0].typing == "reply"
    now[0] += TYPING_TTL + 1
    assert [(w.name, w.typing) for w in presence.others(NUMBER, "jane")] == [("John Smith", None)]
    presence.typing(NUMBER, "tab-john-2", "john", "John Smith", "note")
    presence.leave(NUMBER, "tab-john-2", "john")
    assert presence.others(NUMBER, "jane")[0].typing is None  # stopped writing now
    now[0] += LEAVE_GRACE + 1
    assert presence.others(NUMBER, "jane") == ()
    assert [w.name for w in presence.others(NUMBER, "john")] == ["Jane Doe"]
    now[0] += VIEW_TTL + 1
    assert presence.others(NUMBER, "john") == ()


def test_sla_clocks_count_down_in_words() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

    def words(due: timedelta, *, paused: bool = False, outcome: str = "running") -> str:
        clock = Clock(
            clock=SlaClock.RESOLUTION,
            due_at=now + due,
            paused=paused,
            outcome=ClockOutcome(outcome),
        )
        return clock_words(clock, now)

    assert words(timedelta(hours=1, minutes=12, seconds=30)) == "due in 1 h 12 min"
    assert words(timedelta(seconds=20)) == "due in less than a minute"
    assert words(timedelta(days=2, hours=3)) == "due in 2 d 3 h"
    assert words(-timedelta(minutes=25)) == "breached 25 min ago"
    assert words(timedelta(hours=3), paused=True) == "paused"
    assert words(-timedelta(hours=1), outcome="late") == "met late"
