"""Typed search-attribute keys and the values a ticket state gives them."""

from temporalio.common import SearchAttributeKey, SearchAttributePair, SearchAttributeUpdate

from shared import names
from shared.models import TicketState

STATUS = SearchAttributeKey.for_keyword(names.SA_STATUS)
PRIORITY = SearchAttributeKey.for_keyword(names.SA_PRIORITY)
ASSIGNEE = SearchAttributeKey.for_keyword(names.SA_ASSIGNEE)
TEAM = SearchAttributeKey.for_keyword(names.SA_TEAM)
DEPARTMENT = SearchAttributeKey.for_keyword(names.SA_DEPARTMENT)
HELP_TOPIC = SearchAttributeKey.for_keyword(names.SA_HELP_TOPIC)
OVERDUE = SearchAttributeKey.for_bool(names.SA_OVERDUE)


def values(state: TicketState) -> tuple[str, str, str | None, str | None, str, str, bool]:
    return (
        state.status.value,
        state.priority.value,
        state.assignee,
        state.team,
        state.department,
        state.help_topic,
        state.overdue,
    )


def pairs(state: TicketState) -> list[SearchAttributePair[str] | SearchAttributePair[bool]]:
    """Initial attributes for a workflow start."""
    result: list[SearchAttributePair[str] | SearchAttributePair[bool]] = [
        STATUS.value_set(state.status.value),
        PRIORITY.value_set(state.priority.value),
        DEPARTMENT.value_set(state.department),
        HELP_TOPIC.value_set(state.help_topic),
        OVERDUE.value_set(state.overdue),
    ]
    if state.assignee:
        result.append(ASSIGNEE.value_set(state.assignee))
    if state.team:
        result.append(TEAM.value_set(state.team))
    return result


def updates(state: TicketState) -> list[SearchAttributeUpdate[str] | SearchAttributeUpdate[bool]]:
    """Every attribute set to the state's value (unset where the state has none)."""
    return [
        STATUS.value_set(state.status.value),
        PRIORITY.value_set(state.priority.value),
        ASSIGNEE.value_set(state.assignee) if state.assignee else ASSIGNEE.value_unset(),
        TEAM.value_set(state.team) if state.team else TEAM.value_unset(),
        DEPARTMENT.value_set(state.department),
        HELP_TOPIC.value_set(state.help_topic),
        OVERDUE.value_set(state.overdue),
    ]
