"""Typed search-attribute keys and the values a ticket state gives them."""

from typing import Any

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

from shared import names
from shared.enums import TicketStatus
from shared.models import TicketInput, TicketState

STATUS = SearchAttributeKey.for_keyword(names.SA_STATUS)
PRIORITY = SearchAttributeKey.for_keyword(names.SA_PRIORITY)
ASSIGNEE = SearchAttributeKey.for_keyword(names.SA_ASSIGNEE)
TEAM = SearchAttributeKey.for_keyword(names.SA_TEAM)
DEPARTMENT = SearchAttributeKey.for_keyword(names.SA_DEPARTMENT)
HELP_TOPIC = SearchAttributeKey.for_keyword(names.SA_HELP_TOPIC)
OVERDUE = SearchAttributeKey.for_bool(names.SA_OVERDUE)


Values = tuple[str, str, str | None, str | None, str, str, bool]


def values(state: TicketState) -> Values:
    return (
        state.status.value,
        state.priority.value,
        state.assignee,
        state.team,
        state.department,
        state.help_topic,
        state.overdue,
    )


def start_values(data: TicketInput) -> Values:
    """The attribute values a workflow starts with: a new ticket's, or a carried state's."""
    if data.prior_state is not None:
        return values(data.prior_state)
    return (
        TicketStatus.OPEN.value,
        data.priority.value,
        data.assignee,
        data.team,
        data.department,
        data.help_topic,
        False,
    )


def pairs(vals: Values) -> TypedSearchAttributes:
    """Initial attributes for a workflow start."""
    status, priority, assignee, team, department, help_topic, overdue = vals
    result: list[SearchAttributePair[Any]] = [
        SearchAttributePair(STATUS, status),
        SearchAttributePair(PRIORITY, priority),
        SearchAttributePair(DEPARTMENT, department),
        SearchAttributePair(HELP_TOPIC, help_topic),
        SearchAttributePair(OVERDUE, overdue),
    ]
    if assignee:
        result.append(SearchAttributePair(ASSIGNEE, assignee))
    if team:
        result.append(SearchAttributePair(TEAM, team))
    return TypedSearchAttributes(result)


def updates(state: TicketState) -> list[SearchAttributeUpdate[Any]]:
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
