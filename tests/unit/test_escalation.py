"""Ladders, pausing and clocks as pure logic (the workflow tests show them on real timers)."""

from datetime import UTC, datetime, timedelta

from shared.domain import lifecycle
from shared.domain.enums import (
    Action,
    ActorKind,
    ClockOutcome,
    EventKind,
    NotificationKind,
    Priority,
    RecipientRole,
    SlaClock,
    TicketStatus,
)
from shared.domain.models import Actor, Ladder, LadderStep, TicketCommand
from tests.builders import PLAN, T0, ref, ticket_state

JANE = Actor(kind=ActorKind.AGENT, name="Jane", handle="jane")
LADDER = Ladder(
    steps=[
        LadderStep(name="warn", at_percent=50, notify=["assignee", "team_lead"]),
        LadderStep(name="L1", after_breach=timedelta(0), notify=["team:online-banking"]),
        LadderStep(
            name="L2",
            after_breach=timedelta(hours=1),
            notify=["agent:boss"],
            raise_priority=True,
            reassign_team="escalations",
        ),
    ],
    repeat_every=timedelta(minutes=30),
    repeat_max=2,
)


def laddered() -> lifecycle.TicketState:
    state = ticket_state()
    state.sla_plan = PLAN.model_copy(update={"ladders": {SlaClock.FIRST_RESPONSE: LADDER}})
    state.assignee = "john"
    return state


def test_each_step_fires_once_in_order_with_its_recipients_and_actions() -> None:
    state = laddered()
    notices = lifecycle.fire_due(state, T0 + timedelta(hours=2))
    assert [(n.kind, n.recipient.role) for n in notices] == [
        (NotificationKind.SLA_WARNING, RecipientRole.ASSIGNEE),
        (NotificationKind.SLA_WARNING, RecipientRole.TEAM_LEAD),
    ]
    assert lifecycle.fire_due(state, T0 + timedelta(hours=3)) == []
    notices = lifecycle.fire_due(state, T0 + timedelta(hours=4))
    assert [(n.recipient.role, n.recipient.handle) for n in notices] == [
        (RecipientRole.TEAM, "online-banking")
    ]
    notices = lifecycle.fire_due(state, T0 + timedelta(hours=5))
    # 4:30 a reminder to L1's recipients; 5:00 L2 to the boss, then the next reminder to L2's.
    assert [(n.recipient.role, n.recipient.handle) for n in notices] == [
        (RecipientRole.TEAM, "online-banking"),
        (RecipientRole.AGENT, "boss"),
        (RecipientRole.AGENT, "boss"),
    ]
    assert state.priority is Priority.HIGH and state.team == "escalations"
    assert state.escalation_level == 2


def test_reminders_repeat_while_breached_up_to_the_cap() -> None:
    state = laddered()
    lifecycle.fire_due(state, T0 + timedelta(days=2))
    reminders = [e for e in state.timeline if e.kind is EventKind.SLA_REMINDER]
    assert [e.detail["step"] for e in reminders] == ["r1", "r2"]


def test_satisfying_the_clock_cancels_what_is_left_of_the_ladder() -> None:
    state = laddered()
    lifecycle.fire_due(state, T0 + timedelta(hours=2))  # the warning
    respond = TicketCommand(command_id="r", action=Action.RESPOND, actor=JANE, message=ref("on it"))
    lifecycle.apply(state, respond, T0 + timedelta(hours=3))
    later = lifecycle.fire_due(state, T0 + timedelta(hours=20))
    assert all(n.kind is not NotificationKind.ESCALATION for n in later)
    first = next(r for r in state.clocks if r.clock is SlaClock.FIRST_RESPONSE)
    assert first.outcome is ClockOutcome.MET and first.fired == ["s0"]


def test_pending_moves_the_resolution_due_time_by_the_paused_time() -> None:
    state = ticket_state()
    due = state.resolution_due
    assert due is not None
    pend = TicketCommand(command_id="p", action=Action.SET_PENDING, actor=JANE)
    lifecycle.apply(state, pend, T0 + timedelta(hours=1))
    assert state.status is TicketStatus.PENDING and state.resolution_due == due
    lifecycle.fire_due(state, T0 + timedelta(hours=30))  # paused: the resolution clock waits
    assert not any(r.breached_at for r in state.clocks if r.clock is SlaClock.RESOLUTION)
    reply = TicketCommand(
        command_id="q",
        action=Action.REQUESTER_REPLY,
        actor=Actor(kind=ActorKind.REQUESTER, name="Alice"),
        message=ref("here"),
    )
    lifecycle.apply(state, reply, T0 + timedelta(hours=31))
    assert state.status is TicketStatus.OPEN
    assert state.resolution_due == due + timedelta(hours=30)


def test_next_response_starts_on_requester_message_and_is_met_by_response() -> None:
    state = ticket_state()
    state.sla_plan = PLAN.model_copy(update={"next_response": timedelta(hours=2)})
    reply = TicketCommand(
        command_id="q",
        action=Action.REQUESTER_REPLY,
        actor=Actor(kind=ActorKind.REQUESTER, name="Alice"),
        message=ref("?"),
    )
    lifecycle.apply(state, reply, T0)
    assert state.next_response_due == T0 + timedelta(hours=2)
    respond = TicketCommand(command_id="r", action=Action.RESPOND, actor=JANE, message=ref("!"))
    lifecycle.apply(state, respond, T0 + timedelta(hours=1))
    assert state.next_response_due is None
    run = next(r for r in state.clocks if r.clock is SlaClock.NEXT_RESPONSE)
    assert run.outcome is ClockOutcome.MET and run.business_elapsed == timedelta(hours=1)


def test_closing_cancels_running_clocks() -> None:
    state = ticket_state()
    close = TicketCommand(command_id="c", action=Action.CLOSE, actor=JANE)
    lifecycle.apply(state, close, datetime(2026, 11, 23, 10, tzinfo=UTC))
    assert {r.outcome for r in state.clocks} == {ClockOutcome.CANCELLED}
    assert state.next_due_at is None and not state.overdue
