"""Tickets opened before the lean core ran the workflow type "TicketWorkflow", whose code is
gone. Such a ticket moves on with `ticketflow doctor --recover`: a new run of today's type
started from its projection. That needs the values its history and projection hold to mean
the same today: they are pinned here, read from a recorded v1 history."""

import base64
import contextlib
import json
from collections import defaultdict
from enum import StrEnum
from pathlib import Path
from typing import Any

from shared.domain.enums import (
    Action,
    ActorKind,
    EventKind,
    NotificationKind,
    Priority,
    RecipientRole,
    SlaClock,
    Source,
    ThreadKind,
    TicketStatus,
)

V1_HISTORY = Path(__file__).with_name("v1_lifecycle.json")
# The values the v1 history used, by the field that held them, and what each means today.
PINNED: dict[str, dict[str, type[StrEnum] | tuple[type[StrEnum], ...]]] = {
    "action": {
        v: Action
        for v in ["assign", "change_priority", "close", "requester_reply", "resolve", "respond"]
    },
    "priority": {v: Priority for v in ["emergency", "normal"]},
    "source": {"web": Source},
    "status": {v: TicketStatus for v in ["closed", "open", "resolved"]},
    "clock": {"first_response": SlaClock},
    "role": {v: RecipientRole for v in ["assignee", "requester", "team_lead"]},
    "kind": {
        **{v: ActorKind for v in ["agent", "requester", "system"]},
        **{v: ThreadKind for v in ["message", "response"]},
        **{v: NotificationKind for v in ["escalation", "ticket_received"]},
        **{
            v: EventKind
            for v in [
                "assigned",
                "closed",
                "created",
                "escalated",
                "notification_sent",
                "priority_changed",
                "reopened",
                "requester_replied",
                "resolved",
                "responded",
            ]
        },
    },
}


def values_in(history: Any) -> dict[str, set[str]]:
    """The string values of the pinned fields, in every payload of `history`."""
    found: dict[str, set[str]] = defaultdict(set)

    def collect(value: Any, key: str | None = None) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                collect(item, name)
        elif isinstance(value, list):
            for item in value:
                collect(item, key)
        elif isinstance(value, str) and key in PINNED:
            found[key].add(value)

    def payloads(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("data"), str) and "metadata" in value:
                with contextlib.suppress(ValueError):
                    collect(json.loads(base64.b64decode(value["data"])))
            for item in value.values():
                payloads(item)
        elif isinstance(value, list):
            for item in value:
                payloads(item)

    payloads(history)
    return found


def test_every_value_a_v1_history_holds_is_pinned() -> None:
    found = values_in(json.loads(V1_HISTORY.read_text()))
    assert found  # the history's payloads were read
    for field, values in found.items():
        assert values <= set(PINNED[field]), (field, values - set(PINNED[field]))


def test_the_pinned_values_mean_the_same_today() -> None:
    for values in PINNED.values():
        for value, kind in values.items():
            assert isinstance(kind, type) and kind(value).value == value
