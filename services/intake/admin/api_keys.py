"""Integrations' API keys (service accounts): create (the secret answered once), list (never
the secret), read, revoke. Admins only; each change is audited in its own transaction."""

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Path, status

from services.intake.admin.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyRead, ItemList
from services.intake.auth import AdminAgent, get_admin
from services.intake.deps import SessionDep
from services.tickets.errors import NotFound
from shared.db import api_keys, audit
from shared.db.tables import ApiKeyRow
from shared.domain.audit import AuditAction, AuditEntity
from shared.domain.scopes import Scope

router = APIRouter(
    prefix="/api/v1/admin/api-keys", tags=["admin"], dependencies=[Depends(get_admin)]
)
KeyId = Path(ge=1, le=2**31 - 1, description="the key's id")


def key_read(row: ApiKeyRow, now: datetime) -> ApiKeyRead:
    expires_at = api_keys.utc(row.expires_at)
    return ApiKeyRead(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        scopes=[Scope(scope) for scope in row.scopes],
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        active=row.revoked_at is None and (expires_at is None or expires_at > now),
    )


def _audited(read: ApiKeyRead) -> dict[str, object]:
    """What the audit log keeps of a key: never its secret, nor its use."""
    return read.model_dump(mode="json", include={"name", "prefix", "scopes", "expires_at"})


@router.post("", status_code=status.HTTP_201_CREATED)
def create_api_key(body: ApiKeyCreate, session: SessionDep, admin: AdminAgent) -> ApiKeyCreated:
    """A new key with the given scopes (`admin` implies every other); its secret is in this
    answer only."""
    now = datetime.now(UTC)
    actor = admin.actor()
    row, secret = api_keys.create(
        session,
        name=body.name,
        scopes=body.scopes,
        expires_at=body.expires_at,
        created_by=actor.handle or actor.name,
        now=now,
    )
    read = key_read(row, now)
    audit.record_change(
        session,
        actor=actor,
        entity=AuditEntity.API_KEY,
        entity_id=str(row.id),
        before=None,
        after=_audited(read),
    )
    session.commit()
    return ApiKeyCreated(**read.model_dump(), key=secret)


@router.get("")
def list_api_keys(session: SessionDep) -> ItemList[ApiKeyRead]:
    now = datetime.now(UTC)
    return ItemList(items=[key_read(row, now) for row in api_keys.list_keys(session)])


@router.get("/{key_id}")
def get_api_key(session: SessionDep, key_id: int = KeyId) -> ApiKeyRead:
    return key_read(_found(session, key_id), datetime.now(UTC))


@router.delete("/{key_id}")
def revoke_api_key(session: SessionDep, admin: AdminAgent, key_id: int = KeyId) -> ApiKeyRead:
    """Revoke the key at once: the next request with it gets 401. Revoking it again changes
    nothing."""
    now = datetime.now(UTC)
    row = _found(session, key_id)
    if api_keys.revoke(session, row, now):
        audit.record(
            session,
            actor=admin.actor(),
            action=AuditAction.REVOKED,
            entity=AuditEntity.API_KEY,
            entity_id=str(row.id),
            changes={"revoked_at": [None, now.isoformat()]},
            summary=f"revoked API key {row.id} ({row.name!r})",
        )
        session.commit()
    return key_read(row, now)


def _found(session: SessionDep, key_id: int) -> ApiKeyRow:
    row = api_keys.get(session, key_id)
    if row is None:
        raise NotFound(f"API key {key_id}")
    return row
