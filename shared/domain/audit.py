"""What an audit entry says: which record changed how, as a field-by-field difference and a
one-line summary a person can read. Pure; `shared.db.audit` stores the entries."""

import json
from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class AuditEntity(StrEnum):
    AGENT = "agent"
    TEAM = "team"
    DEPARTMENT = "department"
    HELP_TOPIC = "help_topic"
    SLA_PLAN = "sla_plan"
    SCHEDULE = "schedule"
    API_KEY = "api_key"
    WEBHOOK = "webhook"
    # A requester (GDPR requests), named by a keyed hash of their address, never the address.
    REQUESTER = "requester"


class AuditAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    REVOKED = "revoked"
    DELETED = "deleted"
    ERASURE_REQUESTED = "erasure_requested"
    EXPORTED = "exported"


# Shown in place of a secret's value: an entry records that it changed, never what it is.
SECRET = "(secret)"
ROTATED = "(rotated)"
SECRET_ROTATED = [SECRET, ROTATED]
VALUE_SHOWN = 60  # characters of each value in a summary (the changes keep them whole)
SUMMARY_MAX = 1000

Changes = dict[str, list[Any]]


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> Changes:
    """Field -> [before, after] for each field whose (JSON) value differs; a record created has
    None before, one deleted None after."""
    old, new = before or {}, after or {}
    fields = [*old, *(name for name in new if name not in old)]
    return {
        name: [old.get(name), new.get(name)]
        for name in fields
        if _json(old.get(name)) != _json(new.get(name))
    }


def summarize(
    action: AuditAction, entity: AuditEntity | str, entity_id: str, changes: Changes
) -> str:
    """E.g. "updated agent 'john': role 'agent' → 'admin'"."""
    head = f"{action.value} {str(entity).replace('_', ' ')} {entity_id!r}"
    if action is AuditAction.CREATED:
        parts = [f"{name} {_shown(after)}" for name, (_, after) in changes.items()]
    else:
        parts = [f"{name} {_shown(b)} → {_shown(a)}" for name, (b, a) in changes.items()]
    text = f"{head}: {', '.join(parts)}" if parts else head
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _shown(value: Any) -> str:
    text = value if value in (SECRET, ROTATED) else _json(value)
    return text if len(text) <= VALUE_SHOWN else text[: VALUE_SHOWN - 1] + "…"
