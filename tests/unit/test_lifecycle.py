"""The state machine: every action from every status, by every kind of actor."""

import itertools
from datetime import timedelta

import pytest

from shared.domain import lifecycle
from shared.domain.enums import (
    Action,
    EventKind,
    NotificationKind,
    Priority,
    Rating,
    RecipientRole,
    SlaClock,
    Source,
    TicketStatus,
)
from shared.domain.lifecycle import IllegalTransition
from shared.domain.models import (
    Actor,
    ExternalRef,
    Person,
    TicketCommand,
)
from shared.temporal import names
from tests.builders import AGENT, REQUESTER, T0, new_input, ref, ticket_state

FIELDS: dict[Action, dict[str, object]] = {
    Action.ASSIGN: {"agent": "john"},
    Action.CHANGE_PRIORITY: {"priority": Priority.EMERGENCY},
    Action.TRANSFER: {"department": "support"},
    Action.RESPOND: {"message": ref("hello")},
    Action.NOTE: {"message": ref("internal")},
    Action.REQUESTER_REPLY: {"message": ref("still broken")},
    Action.LINK: {"external_ref": ExternalRef(system="jira", id="OPS-1")},
    # Every ticket_state() holds this one.
    Action.UNLINK: {"external_ref": ExternalRef(system="crm", id="C-9")},
    Action.RATE: {"rating": Rating.GOOD, "comment": ref("quick, thanks")},
}


def command(action: Action, actor: Actor | None = None) -> TicketCommand:
    if actor is None:
        actor = REQUESTER if action in lifecycle.REQUESTER_ACTIONS else AGENT
    return TicketCommand(
        command_id=f"c-{action}", action=action, actor=actor, **FIELDS.get(action, {})
    )  # type: ignore[arg-type]


CASES = list(itertools.product(Action, TicketStatus))


@pytest.mark.parametrize(("action", "status"), CASES, ids=[f"{a}-from-{s}" for a, s in CASES])
def test_every_action_from_every_status(action: Action, status: TicketStatus) -> None:
    state = ticket_state(status)
    if status in lifecycle.ALLOWED_FROM[action]:
        version = state.version
        lifecycle.apply(state, command(action), T0 + timedelta(minutes=5))
        assert state.version == version + 1
    else:
        before = state.model_copy(deep=True)
        with pytest.raises(IllegalTransition, match=f"cannot .* a {status.value} ticket"):
            lifecycle.apply(state, command(action), T0)
        assert state == before


@pytest.mark.parametrize("action", [a for a in Action if a not in lifecycle.REQUESTER_MAY])
def test_requester_may_only_reply_close_rate_and_ask_for_a_link(action: Action) -> None:
    with pytest.raises(IllegalTransition, match="a requester may not"):
        lifecycle.check(ticket_state(), command(action, REQUESTER))


def test_requester_may_close_their_ticket() -> None:
    state = ticket_state()
    lifecycle.apply(state, command(Action.CLOSE, REQUESTER), T0 + timedelta(minutes=5))
    assert state.status is TicketStatus.CLOSED


@pytest.mark.parametrize("action", sorted(lifecycle.REQUESTER_ACTIONS))
def test_agent_cannot_give_a_requester_command(action: Action) -> None:
    with pytest.raises(IllegalTransition, match="only the requester"):
        lifecycle.check(ticket_state(), command(action, AGENT))


def test_a_closure_is_rated_once_and_a_reopened_ticket_may_be_rated_again() -> None:
    state = ticket_state(TicketStatus.CLOSED)
    later = T0 + timedelta(minutes=5)
    lifecycle.apply(state, command(Action.RATE), later)
    assert state.rating is Rating.GOOD
    rated = [e for e in state.timeline if e.kind is EventKind.RATED]
    assert rated[-1].detail["rating"] == "good" and "message" in rated[-1].detail
    again = command(Action.RATE).model_copy(update={"command_id": "again"})
    with pytest.raises(IllegalTransition, match="rated already"):
        lifecycle.check(state, again, later)
    lifecycle.apply(state, command(Action.REOPEN), later)
    assert state.rating is None
    lifecycle.apply(state, command(Action.CLOSE), later)
    lifecycle.apply(state, again.model_copy(update={"rating": Rating.BAD}), later)
    assert state.rating is Rating.BAD


def test_a_rating_needs_good_or_bad() -> None:
    blank = command(Action.RATE).model_copy(update={"rating": None})
    with pytest.raises(IllegalTransition, match="needs a rating"):
        lifecycle.check(ticket_state(TicketStatus.CLOSED), blank)


def test_a_link_is_mailed_to_the_requester_at_most_three_times_an_hour() -> None:
    state = ticket_state(TicketStatus.CLOSED)
    for i in range(lifecycle.LINKS_PER_HOUR):
        sent = command(Action.SEND_LINK).model_copy(update={"command_id": f"l{i}"})
        notices = lifecycle.apply(state, sent, T0 + timedelta(minutes=i))
        assert [(n.kind, n.recipient.role) for n in notices] == [
            (NotificationKind.TICKET_LINK, RecipientRole.REQUESTER)
        ]
    more = command(Action.SEND_LINK).model_copy(update={"command_id": "more"})
    with pytest.raises(IllegalTransition, match="links an hour") as refused:
        lifecycle.check(state, more, T0 + timedelta(minutes=30))
    assert refused.value.refusal is lifecycle.Refusal.RATE_LIMITED
    lifecycle.check(state, more, T0 + timedelta(minutes=61))
    assert state.status is TicketStatus.CLOSED


@pytest.mark.parametrize(
    ("action", "fields", "reason"),
    [
        (Action.ASSIGN, {}, "needs an agent or a team"),
        (Action.ASSIGN, {"team": "online-banking"}, "already assigned"),
        (Action.CHANGE_PRIORITY, {"priority": Priority.NORMAL}, "already normal"),
        (Action.TRANSFER, {"department": "online-banking"}, "already in"),
        (Action.RESPOND, {"message": ref("")}, "cannot be empty"),
    ],
)
def test_pointless_or_empty_commands_are_rejected(
    action: Action, fields: dict[str, object], reason: str
) -> None:
    cmd = TicketCommand(command_id="x", action=action, actor=AGENT, **fields)  # type: ignore[arg-type]
    with pytest.raises(IllegalTransition, match=reason):
        lifecycle.check(ticket_state(), cmd)


def test_new_ticket_acknowledges_requester_and_sets_due_times() -> None:
    state = ticket_state()
    assert state.first_response_due == T0 + timedelta(hours=4)
    assert state.resolution_due == T0 + timedelta(hours=24)
    assert [e.kind for e in state.timeline] == [EventKind.CREATED, EventKind.ASSIGNED]


def test_first_breach_escalates_once_to_team_lead_then_manager() -> None:
    state = ticket_state()
    notices = lifecycle.fire_due(state, T0 + timedelta(hours=4))
    assert state.overdue and state.escalation_level == 1
    assert [(n.kind, n.recipient.role) for n in notices] == [
        (NotificationKind.ESCALATION, RecipientRole.TEAM_LEAD)
    ]
    assert lifecycle.fire_due(state, T0 + timedelta(hours=5)) == []
    notices = lifecycle.fire_due(state, T0 + timedelta(hours=24))
    assert state.escalation_level == 2 and state.breached == [
        SlaClock.FIRST_RESPONSE,
        SlaClock.RESOLUTION,
    ]
    assert RecipientRole.DEPARTMENT_MANAGER in [n.recipient.role for n in notices]


def test_priority_change_rearms_a_breached_clock_whose_new_due_is_ahead() -> None:
    state = ticket_state()
    state.priority = Priority.EMERGENCY
    lifecycle.apply(
        state, command(Action.CHANGE_PRIORITY).model_copy(update={"priority": Priority.LOW}), T0
    )
    assert state.first_response_due == T0 + timedelta(hours=4)
    lifecycle.fire_due(state, T0 + timedelta(hours=4))
    assert SlaClock.FIRST_RESPONSE in state.breached


def test_requester_reply_reopens_resolved_ticket_and_restarts_resolution_clock() -> None:
    state = ticket_state()
    lifecycle.apply(state, command(Action.RESOLVE), T0 + timedelta(hours=1))
    assert state.auto_close_at == T0 + timedelta(hours=1, days=3)
    later = T0 + timedelta(hours=30)
    lifecycle.apply(state, command(Action.REQUESTER_REPLY), later)
    assert state.status is TicketStatus.OPEN and state.auto_close_at is None
    assert state.resolution_due == later + timedelta(hours=24)


def test_resolved_ticket_auto_closes_at_deadline() -> None:
    state = ticket_state()
    lifecycle.apply(state, command(Action.RESPOND), T0)
    lifecycle.apply(state, command(Action.RESOLVE), T0)
    notices = lifecycle.fire_due(state, T0 + timedelta(days=3))
    assert state.status is TicketStatus.CLOSED
    assert state.timeline[-1].kind is EventKind.AUTO_CLOSED
    assert [n.kind for n in notices] == [NotificationKind.CLOSED]


def test_nobody_is_told_about_their_own_assignment() -> None:
    state = ticket_state()
    cmd = command(Action.ASSIGN).model_copy(update={"agent": "jane"})
    notices = lifecycle.apply(state, cmd, T0)
    assert notices[0].exclude_agent == "jane"


def test_imported_ticket_counts_from_when_it_was_opened_but_never_from_the_future() -> None:
    data = new_input(
        "123457",
        subject="Imported",
        message=ref("from the old desk"),
        requester=Person(name="Alice", email="alice@example.com"),
        team=None,
        source=Source.API,
        idempotency_key="k",
        opened_at=T0 - timedelta(hours=1),
    )
    state, _ = lifecycle.open_ticket(data, T0)
    assert state.created_at == T0 - timedelta(hours=1)
    assert state.first_response_due == T0 + timedelta(hours=3)
    future = data.model_copy(update={"opened_at": T0 + timedelta(days=1)})
    state, _ = lifecycle.open_ticket(future, T0)
    assert state.created_at == T0


def test_a_full_ticket_refuses_more_messages_but_takes_other_commands() -> None:
    state = ticket_state()
    state.thread_count = lifecycle.MAX_MESSAGES
    with pytest.raises(IllegalTransition) as refused:
        lifecycle.check(state, command(Action.RESPOND))
    assert refused.value.refusal is lifecycle.Refusal.TICKET_FULL
    lifecycle.check(state, command(Action.RESOLVE))  # the ticket keeps working
    state.thread_count = 1
    state.thread_bytes = lifecycle.MAX_THREAD_BYTES
    with pytest.raises(IllegalTransition, match="MiB"):
        lifecycle.check(state, command(Action.NOTE))


def test_a_requester_writing_too_fast_is_told_to_wait() -> None:
    state = ticket_state()
    for i in range(lifecycle.REQUESTER_MESSAGES_PER_MINUTE):
        cmd = command(Action.REQUESTER_REPLY).model_copy(update={"command_id": f"m{i}"})
        lifecycle.apply(state, cmd, T0 + timedelta(seconds=i))
    late = command(Action.REQUESTER_REPLY).model_copy(update={"command_id": "late"})
    with pytest.raises(IllegalTransition) as refused:
        lifecycle.check(state, late, T0 + timedelta(seconds=30))
    assert refused.value.refusal is lifecycle.Refusal.RATE_LIMITED
    lifecycle.check(state, late, T0 + timedelta(minutes=2))  # a minute later it may


def test_a_command_past_its_deadline_is_refused_as_expired() -> None:
    cmd = command(Action.NOTE).model_copy(update={"expires_at": T0})
    lifecycle.check(ticket_state(), cmd, T0)
    with pytest.raises(IllegalTransition) as refused:
        lifecycle.check(ticket_state(), cmd, T0 + timedelta(microseconds=1))
    assert refused.value.refusal is lifecycle.Refusal.EXPIRED


def test_a_key_reused_for_another_request_is_refused() -> None:
    state = ticket_state()
    first = command(Action.NOTE).model_copy(update={"fingerprint": "a"})
    lifecycle.apply(state, first, T0)
    other = first.model_copy(update={"fingerprint": "b"})
    with pytest.raises(IllegalTransition) as refused:
        lifecycle.check(state, other, T0)
    assert refused.value.refusal is lifecycle.Refusal.KEY_REUSED


def test_every_action_has_its_named_update() -> None:
    """Recorded histories name these updates: each action keeps its name for good."""
    assert set(names.UPDATES) == set(Action)
    assert all(name == f"update.{action.value}" for action, name in names.UPDATES.items())
