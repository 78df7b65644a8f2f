"""The audit log of admin changes: written in the transaction of the change itself, read
newest first.

Anyone changing reference data, keys or webhooks calls `record` (or `record_change`) with the
session of the change, before its commit: the entry commits or rolls back with it."""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db.tables import AuditEntryRow
from shared.domain.audit import AuditAction, AuditEntity, Changes, diff, summarize
from shared.domain.models import Actor


def record(
    session: Session,
    *,
    actor: Actor,
    action: AuditAction,
    entity: AuditEntity | str,
    entity_id: str,
    changes: Changes | None = None,
    summary: str | None = None,
    at: datetime | None = None,
) -> AuditEntryRow:
    """Add one entry; `summary` defaults to one made from `changes` (field -> [before, after],
    JSON values; put `shared.domain.audit.SECRET` in place of a secret)."""
    changes = changes or {}
    entry = AuditEntryRow(
        at=at or datetime.now(UTC),
        actor_kind=actor.kind.value,
        actor_handle=actor.handle,
        actor_name=actor.name,
        action=action.value,
        entity_kind=str(entity),
        entity_id=entity_id,
        summary=summary or summarize(action, entity, entity_id, changes),
        changes=changes,
    )
    session.add(entry)
    session.flush()
    return entry


def record_change(
    session: Session,
    *,
    actor: Actor,
    entity: AuditEntity | str,
    entity_id: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    secrets: Changes | None = None,
) -> AuditEntryRow | None:
    """An entry for a record going from `before` to `after` (JSON-able field mappings; None
    before: created, None after: deleted); nothing if no field changed."""
    changes = {**diff(before, after), **(secrets or {})}
    if before is None:
        action = AuditAction.CREATED
    elif after is None:
        action = AuditAction.DELETED
    elif changes:
        action = AuditAction.UPDATED
    else:
        return None
    return record(
        session, actor=actor, action=action, entity=entity, entity_id=entity_id, changes=changes
    )


def entries(
    session: Session,
    *,
    entity: str | None = None,
    entity_id: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[AuditEntryRow], int]:
    """One page of entries, newest first, and how many there are in all."""
    query = select(AuditEntryRow)
    if entity is not None:
        query = query.where(AuditEntryRow.entity_kind == entity)
    if entity_id is not None:
        query = query.where(AuditEntryRow.entity_id == entity_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(AuditEntryRow.id.desc()).offset((page - 1) * per_page).limit(per_page)
    )
    return list(rows), total
