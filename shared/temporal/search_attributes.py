"""Typed search-attribute keys and the values a ticket state gives them."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from temporalio.common import (
    SearchAttributeKey,
    SearchAttributePair,
    SearchAttributeUpdate,
    TypedSearchAttributes,
)

from shared.domain.external_refs import search_labels
from shared.domain.models import TicketState
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
EXTERNAL_REF = SearchAttributeKey.for_keyword_list(names.SA_EXTERNAL_REF)

KEYS: tuple[SearchAttributeKey[Any], ...] = (
    STATUS,
    PRIORITY,
    ASSIGNEE,
    TEAM,
    DEPARTMENT,
    HELP_TOPIC,
    OVERDUE,
    NEXT_DUE_AT,
    SLA_BREACHED,
    EXTERNAL_REF,
)

# Each attribute with its value; None means unset.
Value = str | bool | datetime | list[str] | None
Values = tuple[tuple[SearchAttributeKey[Any], Value], ...]


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
        # No references: unset, as on tickets from before they existed (their histories replay
        # without an upsert).
        (EXTERNAL_REF, search_labels(state.external_refs) or None),
    )


def current(attributes: TypedSearchAttributes) -> Values:
    """The values a workflow's attributes hold now (as its starter or an earlier run set them)."""
    return tuple((key, _plain(attributes.get(key))) for key in KEYS)


def _plain(value: object) -> Value:
    # A keyword list may come back as any sequence: compare it as a list.
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [str(item) for item in value]
    assert value is None or isinstance(value, str | bool | datetime)
    return value


def changed(before: Values, after: Values) -> list[SearchAttributeUpdate[Any]]:
    """Updates for the attributes whose value differs (set, or unset where it has none)."""
    old = dict(before)
    return [
        key.value_set(value) if value is not None else key.value_unset()
        for key, value in after
        if old.get(key) != value
    ]


def pairs(vals: Values) -> TypedSearchAttributes:
    """Initial attributes for a workflow start."""
    return TypedSearchAttributes(
        [SearchAttributePair(key, value) for key, value in vals if value is not None]
    )


def updates(vals: Values) -> list[SearchAttributeUpdate[Any]]:
    """Every attribute set to its value (unset where it has none)."""
    return [key.value_set(value) if value is not None else key.value_unset() for key, value in vals]
