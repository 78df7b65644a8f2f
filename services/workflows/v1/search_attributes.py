"""Typed search-attribute keys and the values a ticket state gives them."""

from datetime import datetime
from typing import Any

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

from services.workflows.v1.models import TicketInput, TicketState
from shared.domain.enums import TicketStatus
from shared.temporal import names

STATUS = SearchAttributeKey.for_keyword(names.SA_STATUS)
PRIORITY = SearchAttributeKey.for_keyword(names.SA_PRIORITY)
ASSIGNEE = SearchAttributeKey.for_keyword(names.SA_ASSIGNEE)
TEAM = SearchAttributeKey.for_keyword(names.SA_TEAM)
DEPARTMENT = SearchAttributeKey.for_keyword(names.SA_DEPARTMENT)
HELP_TOPIC = SearchAttributeKey.for_keyword(names.SA_HELP_TOPIC)
OVERDUE = SearchAttributeKey.for_bool(names.SA_OVERDUE)
NEXT_DUE_AT = SearchAttributeKey.for_datetime(names.SA_NEXT_DUE_AT)
SLA_BREACHED = SearchAttributeKey.for_bool(names.SA_SLA_BREACHED)

# Each attribute with its value; None means unset.
Values = tuple[tuple[SearchAttributeKey[Any], str | bool | datetime | None], ...]


def values(state: TicketState) -> Values:
    return (
        (STATUS, state.status.value),
        (PRIORITY, state.priority.value),
        (ASSIGNEE, state.assignee),
        (TEAM, state.team),
        (DEPARTMENT, state.department),
        (HELP_TOPIC, state.help_topic),
        (OVERDUE, state.overdue),
        (NEXT_DUE_AT, state.next_due_at),
        (SLA_BREACHED, state.sla_breached),
    )


def start_values(data: TicketInput) -> Values:
    """The attribute values a workflow starts with: a new ticket's, or a carried state's."""
    if data.prior_state is not None:
        return values(data.prior_state)
    return (
        (STATUS, TicketStatus.OPEN.value),
        (PRIORITY, data.priority.value),
        (ASSIGNEE, data.assignee),
        (TEAM, data.team),
        (DEPARTMENT, data.department),
        (HELP_TOPIC, data.help_topic),
        (OVERDUE, False),
        (SLA_BREACHED, False),
    )


def pairs(vals: Values) -> TypedSearchAttributes:
    """Initial attributes for a workflow start."""
    return TypedSearchAttributes(
        [SearchAttributePair(key, value) for key, value in vals if value is not None]
    )


def updates(vals: Values) -> list[SearchAttributeUpdate[Any]]:
    """Every attribute set to its value (unset where it has none)."""
    return [key.value_set(value) if value is not None else key.value_unset() for key, value in vals]
