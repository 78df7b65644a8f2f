"""Pure rules behind integrations: a command expecting a ticket version (If-Match), what each
scope and role allows, and how an audit entry describes a change."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain import lifecycle
from shared.domain.audit import SECRET_ROTATED, AuditAction, AuditEntity, diff, summarize
from shared.domain.enums import Action, ActorKind, Priority, Role, TicketStatus
from shared.domain.lifecycle import IllegalTransition, Refusal
from shared.domain.models import Actor, TicketCommand
from shared.domain.scopes import Scope, grants, role_grants
from tests.builders import T0, ref, ticket_state

CRM = Actor(kind=ActorKind.INTEGRATION, name="crm", handle="key:1")


def command(action: Action, **fields: object) -> TicketCommand:
    return TicketCommand(command_id=uuid.uuid4().hex, action=action, actor=CRM, **fields)


def test_a_command_expecting_another_version_is_refused_as_version_mismatch() -> None:
    state = ticket_state()
    stale = command(Action.NOTE, message=ref("x"), expected_version=state.version - 1)
    with pytest.raises(IllegalTransition) as refused:
        lifecycle.check(state, stale, T0)
    assert refused.value.refusal is Refusal.VERSION_MISMATCH
    assert f"at version {state.version}, not {state.version - 1}" in refused.value.reason
    # apply refuses it too, changing nothing.
    before = state.model_copy(deep=True)
    with pytest.raises(IllegalTransition):
        lifecycle.apply(state, stale, T0)
    assert state == before


def test_a_command_expecting_the_current_version_applies_and_moves_it_on() -> None:
    state = ticket_state()
    current = state.version
    lifecycle.apply(state, command(Action.NOTE, message=ref("x"), expected_version=current), T0)
    assert state.version == current + 1
    again = command(Action.NOTE, message=ref("y"), expected_version=current)
    with pytest.raises(IllegalTransition):
        lifecycle.check(state, again, T0 + timedelta(seconds=1))


def test_a_stale_version_is_told_before_an_illegal_transition() -> None:
    """The caller's picture is out of date: reading again is the first thing to do."""
    state = ticket_state(TicketStatus.CLOSED)
    cmd = command(Action.RESOLVE, expected_version=state.version + 5)
    with pytest.raises(IllegalTransition) as refused:
        lifecycle.check(state, cmd, T0)
    assert refused.value.refusal is Refusal.VERSION_MISMATCH


def test_an_integration_acts_like_an_agent_but_never_like_the_requester() -> None:
    state = ticket_state()
    lifecycle.apply(state, command(Action.CHANGE_PRIORITY, priority=Priority.HIGH), T0)
    lifecycle.apply(state, command(Action.RESPOND, message=ref("on it")), T0)
    assert [e.actor for e in state.timeline[-2:]] == [CRM, CRM]
    with pytest.raises(IllegalTransition, match="only the requester"):
        lifecycle.check(state, command(Action.REQUESTER_REPLY, message=ref("x")), T0)


def test_commands_without_an_expected_version_are_judged_as_before() -> None:
    decoded = TicketCommand.model_validate(
        {"command_id": "c", "action": "note", "actor": {"kind": "agent", "name": "J"}}
    )
    assert decoded.expected_version is None


def test_admin_scope_implies_every_other() -> None:
    assert all(grants({Scope.ADMIN}, scope) for scope in Scope)
    assert grants({Scope.TICKETS_READ}, Scope.TICKETS_READ)
    assert not grants({Scope.TICKETS_READ}, Scope.TICKETS_WRITE)
    assert not grants({Scope.TICKETS_WRITE}, Scope.EVENTS_READ)


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.ADMIN, set(Scope)),
        (Role.AGENT, {Scope.TICKETS_CREATE, Scope.TICKETS_READ, Scope.TICKETS_WRITE}),
        (Role.VIEWER, {Scope.TICKETS_CREATE, Scope.TICKETS_READ}),
    ],
)
def test_roles_map_onto_scopes(role: Role, allowed: set[Scope]) -> None:
    assert {scope for scope in Scope if role_grants(role, scope)} == allowed


def test_an_audit_diff_keeps_only_changed_fields_and_summarizes_them() -> None:
    before = {"handle": "john", "role": "agent", "teams": ["ob"]}
    after = {"handle": "john", "role": "admin", "teams": ["ob"]}
    changes = diff(before, after)
    assert changes == {"role": ["agent", "admin"]}
    text = summarize(AuditAction.UPDATED, AuditEntity.AGENT, "john", changes)
    assert text == """updated agent 'john': role "agent" → "admin\""""
    created = diff(None, {"handle": "ob", "name": "OB"})
    assert created == {"handle": [None, "ob"], "name": [None, "OB"]}
    assert summarize(AuditAction.CREATED, AuditEntity.TEAM, "ob", created).startswith(
        "created team 'ob': handle \"ob\""
    )


def test_an_audit_summary_shows_a_secret_as_changed_never_its_value() -> None:
    changes = {"token": SECRET_ROTATED}
    text = summarize(AuditAction.UPDATED, AuditEntity.AGENT, "john", changes)
    assert text == "updated agent 'john': token (secret) → (rotated)"


def test_long_values_are_cut_in_the_summary_but_kept_in_the_changes() -> None:
    long = "x" * 5000
    changes = diff({"name": "a"}, {"name": long})
    assert changes["name"][1] == long
    text = summarize(AuditAction.UPDATED, AuditEntity.SCHEDULE, "office", changes)
    assert len(text) < 200 and text.endswith("…")


def test_times_in_changes_compare_as_json() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert diff({"expires_at": at.isoformat()}, {"expires_at": at.isoformat()}) == {}
