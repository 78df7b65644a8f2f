"""The audit log of admin changes, for admins: newest first, paged, by kind of record."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.intake.admin.schemas import AuditActorRead, AuditEntryRead, AuditPage, AuditQuery
from services.intake.auth import get_admin
from services.intake.deps import SessionDep
from shared.db import audit
from shared.domain.audit import AuditAction
from shared.domain.enums import ActorKind

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], dependencies=[Depends(get_admin)])


@router.get("/audit")
def list_audit(session: SessionDep, query: Annotated[AuditQuery, Query()]) -> AuditPage:
    """Who changed which agent, team, department, help topic, SLA plan, schedule, API key or
    webhook, when, and what changed (secrets never shown)."""
    rows, total = audit.entries(
        session,
        entity=query.entity.value if query.entity else None,
        entity_id=query.entity_id,
        page=query.page,
        per_page=query.per_page,
    )
    items = [
        AuditEntryRead(
            id=row.id,
            at=row.at,
            actor=AuditActorRead(
                kind=ActorKind(row.actor_kind), name=row.actor_name, handle=row.actor_handle
            ),
            action=AuditAction(row.action),
            entity=row.entity_kind,
            entity_id=row.entity_id,
            summary=row.summary,
            changes=row.changes,
        )
        for row in rows
    ]
    return AuditPage(items=items, total=total, page=query.page, per_page=query.per_page)
