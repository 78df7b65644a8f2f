"""The persist activity on real databases: the projection never goes backwards, and the report
facts are recorded once per clock run and event."""

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select

from services.workflows.activities import TicketActivities
from shared import lifecycle
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import SlaClockFact, TicketEventFact, TicketRow
from shared.enums import Action, ActorKind
from shared.models import Actor, TicketCommand
from tests.workflows.conftest import new_input

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
JANE = Actor(kind=ActorKind.AGENT, name="Jane", handle="jane")


def activities(url: str) -> TicketActivities:
    sessions = make_sessionmaker(make_engine(url))
    return TicketActivities(sessions, httpx.Client(), "http://127.0.0.1:1", "k", "http://x")


def test_an_older_version_never_overwrites_a_newer_one(database_url: str) -> None:
    acts = activities(database_url)
    state, _ = lifecycle.open_ticket(new_input(number="424242"), T0)
    old = state.model_copy(deep=True)
    cmd = TicketCommand(command_id="c1", action=Action.CHANGE_PRIORITY, actor=JANE, priority="high")
    lifecycle.apply(state, cmd, T0 + timedelta(minutes=1))
    assert acts.persist_ticket(state) is True
    assert acts.persist_ticket(old) is False  # a retried, older write arrives late
    assert acts.persist_ticket(state) is False  # the same version again: nothing to do
    with acts._sessions() as session:
        row = session.scalar(select(TicketRow).where(TicketRow.number == "424242"))
        assert row is not None and row.priority == "high" and row.version == state.version


def test_facts_are_recorded_once_per_clock_run_and_event(database_url: str) -> None:
    acts = activities(database_url)
    state, _ = lifecycle.open_ticket(new_input(number="434343"), T0)
    acts.persist_ticket(state)
    respond = TicketCommand(command_id="r", action=Action.RESPOND, actor=JANE, message="hi")
    lifecycle.apply(state, respond, T0 + timedelta(hours=5))  # 1 h late
    resolve = TicketCommand(command_id="s", action=Action.RESOLVE, actor=JANE)
    lifecycle.apply(state, resolve, T0 + timedelta(hours=6))
    acts.persist_ticket(state)
    acts.persist_ticket(state.model_copy(update={"version": state.version + 1}))
    with acts._sessions() as session:
        clocks = {f.clock: f for f in session.scalars(select(SlaClockFact))}
        events = session.scalar(select(func.count()).select_from(TicketEventFact))
        kinds = list(session.scalars(select(TicketEventFact.kind).order_by(TicketEventFact.seq)))
    assert clocks["first_response"].outcome == "late" and clocks["first_response"].breached
    assert clocks["first_response"].business_seconds == 5 * 3600
    assert clocks["resolution"].outcome == "met" and not clocks["resolution"].breached
    assert kinds == ["created", "assigned", "responded", "resolved"]
    assert events == 4
