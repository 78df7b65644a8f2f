"""The publish activity on real databases: the projection never goes backwards; the report
facts, the thread, the timeline and the queued notifications are written once, together."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from services.workflows.activities import TicketActivities
from shared.db import thread
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.outbox import queue_notices
from shared.db.tables import NotificationRow, SlaClockFactRow, TicketEventFactRow, TicketRow
from shared.domain import lifecycle
from shared.domain.enums import Action, ActorKind, EventKind, NotificationKind, RecipientRole
from shared.domain.models import Actor, Notice, PublishBatch, TicketCommand, TicketState
from shared.domain.timeline import notice
from shared.reference.config_file import load_config
from tests.builders import new_input, ref

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
JANE = Actor(kind=ActorKind.AGENT, name="Jane", handle="jane")


def activities(url: str) -> TicketActivities:
    return TicketActivities(make_sessionmaker(make_engine(url)))


def publish(
    acts: TicketActivities, state: TicketState, notices: list[Notice] | None = None
) -> bool:
    """True if this batch was written (False: a version as new was there already)."""
    done = acts.publish_ticket(PublishBatch(state=state, notices=notices or []))
    return not done[0].endswith("already published")


def test_an_older_version_never_overwrites_a_newer_one(database_url: str) -> None:
    acts = activities(database_url)
    state, _ = lifecycle.open_ticket(new_input(number="424242"), T0)
    old = state.model_copy(deep=True)
    cmd = TicketCommand(command_id="c1", action=Action.CHANGE_PRIORITY, actor=JANE, priority="high")
    lifecycle.apply(state, cmd, T0 + timedelta(minutes=1))
    assert publish(acts, state) is True
    assert publish(acts, old) is False  # a retried, older write arrives late
    assert publish(acts, state) is False  # the same version again: nothing to do
    with acts._sessions() as session:
        row = session.scalar(select(TicketRow).where(TicketRow.number == "424242"))
        assert row is not None and row.priority == "high" and row.version == state.version


def test_facts_are_recorded_once_per_clock_run_and_event(database_url: str) -> None:
    acts = activities(database_url)
    state, _ = lifecycle.open_ticket(new_input(number="434343"), T0)
    publish(acts, state)
    respond = TicketCommand(command_id="r", action=Action.RESPOND, actor=JANE, message=ref("hi"))
    lifecycle.apply(state, respond, T0 + timedelta(hours=5))  # 1 h late
    resolve = TicketCommand(command_id="s", action=Action.RESOLVE, actor=JANE)
    lifecycle.apply(state, resolve, T0 + timedelta(hours=6))
    publish(acts, state)
    publish(acts, state.model_copy(update={"version": state.version + 1}))
    with acts._sessions() as session:
        clocks = {f.clock: f for f in session.scalars(select(SlaClockFactRow))}
        events = session.scalar(select(func.count()).select_from(TicketEventFactRow))
        kinds = list(
            session.scalars(select(TicketEventFactRow.kind).order_by(TicketEventFactRow.seq))
        )
    assert clocks["first_response"].outcome == "late" and clocks["first_response"].breached
    assert clocks["first_response"].business_seconds == 5 * 3600
    assert clocks["resolution"].outcome == "met" and not clocks["resolution"].breached
    assert kinds == ["created", "assigned", "responded", "resolved"]
    assert events == 4


def test_thread_timeline_and_notices_are_written_once_with_the_projection(
    database_url: str,
) -> None:
    acts = activities(database_url)
    state, notices = lifecycle.open_ticket(new_input(number="454545"), T0)
    assert publish(acts, state, notices)
    assert not publish(acts, state, notices)  # a retry after the commit: nothing twice
    with acts._sessions() as session:
        entries = thread.thread_of(session, "454545", [])
        events = thread.timeline_of(session, "454545")
        queued = list(
            session.scalars(select(NotificationRow).where(NotificationRow.ticket == "454545"))
        )
    assert [e.id for e in entries] == [1] and entries[0].message_id == state.thread[0].message_id
    assert [e.kind for e in events] == [EventKind.CREATED, EventKind.ASSIGNED]
    # The acknowledgement is queued for the requester; nobody leads the team in this database.
    assert [(n.kind, n.recipient_email, n.status) for n in queued] == [
        ("ticket_received", "alice@example.com", "queued")
    ]
    assert "Access token" not in queued[0].body


def test_each_role_reaches_its_people_once_in_a_few_queries(database_url: str) -> None:
    """Recipients of one publish's notices: every role, an excluded agent, an unknown handle."""
    acts = activities(database_url)
    with acts._sessions.begin() as session:
        load_config(session, "config/demo.yaml")
    state, _ = lifecycle.open_ticket(new_input(number="454545"), T0)
    state = state.model_copy(
        update={"team": "online-banking", "department": "support", "assignee": "john"}
    )

    def to(role: RecipientRole, handle: str | None = None, exclude: str | None = None) -> Notice:
        return notice(
            NotificationKind.ESCALATION, role, "s", "b", 1, handle=handle, exclude_agent=exclude
        )

    notices = [
        to(RecipientRole.REQUESTER),
        to(RecipientRole.TEAM_LEAD),  # jane
        to(RecipientRole.DEPARTMENT_MANAGER),  # support's manager: john
        to(RecipientRole.TEAM, "online-banking", exclude="jane"),  # john only
        to(RecipientRole.ASSIGNEE, exclude="john"),  # nobody left
        to(RecipientRole.AGENT, "nobody-such"),
    ]
    with acts._sessions.begin() as session:
        lines = queue_notices(session, state, notices, "email")
    assert lines == [
        "escalation to requester: queued for alice@example.com",
        "escalation to team lead: queued for jane@example.com",
        "escalation to department manager: queued for john@example.com",
        "escalation to team: queued for john@example.com",
        "escalation to assignee: skipped (no assignee to tell)",
        "escalation to agent: skipped (no agent to tell)",
    ]
