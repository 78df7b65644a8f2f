"""API keys of integrations (service accounts): created with their secret shown once, found by
the secret's hash, revoked at once, expired by their own date; their last use is recorded at
most once a minute, so that a busy integration does not write on every request."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shared.access import hash_token, new_api_key
from shared.db.tables import ApiKeyRow
from shared.domain.scopes import Scope

# How stale `last_used_at` may be: at most one write per key per this long.
LAST_USED_PRECISION = timedelta(minutes=1)
PREFIX_SHOWN = 12  # "tfk_" and 8 characters of the secret


@dataclass(frozen=True)
class ValidKey:
    """A key that may be used now: not revoked, not expired."""

    id: int
    name: str
    scopes: frozenset[Scope]


def utc(value: datetime | None) -> datetime | None:
    """SQLite gives back naive times (all stored in UTC); PostgreSQL aware ones."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def create(
    session: Session,
    *,
    name: str,
    scopes: Iterable[Scope],
    expires_at: datetime | None,
    created_by: str,
    now: datetime,
) -> tuple[ApiKeyRow, str]:
    """A new key and its secret: the only time the secret is seen, since only its hash is kept."""
    secret = new_api_key()
    row = ApiKeyRow(
        name=name,
        secret_hash=hash_token(secret),
        prefix=secret[:PREFIX_SHOWN],
        scopes=sorted(Scope(scope).value for scope in set(scopes)),
        created_at=now,
        created_by=created_by,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row, secret


def list_keys(session: Session) -> list[ApiKeyRow]:
    return list(session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.id)))


def get(session: Session, key_id: int) -> ApiKeyRow | None:
    return session.get(ApiKeyRow, key_id)


def revoke(session: Session, row: ApiKeyRow, now: datetime) -> bool:
    """Revoke `row` from now on; False if it already was (its revocation time is kept)."""
    if row.revoked_at is not None:
        return False
    row.revoked_at = now
    session.flush()
    return True


def authenticate(session: Session, secret: str, now: datetime) -> ValidKey | None:
    """The key whose secret this is, if it may be used at `now`; notes its use (throttled)."""
    row = session.scalar(
        select(ApiKeyRow).where(
            ApiKeyRow.secret_hash == hash_token(secret), ApiKeyRow.revoked_at.is_(None)
        )
    )
    if row is None:
        return None
    expires_at = utc(row.expires_at)
    if expires_at is not None and expires_at <= now:
        return None
    last_used = utc(row.last_used_at)
    if last_used is None or now - last_used >= LAST_USED_PRECISION:
        touch(session, row.id, now)
    return ValidKey(id=row.id, name=row.name, scopes=frozenset(Scope(s) for s in row.scopes))


def touch(session: Session, key_id: int, now: datetime) -> bool:
    """Set the key's `last_used_at` to `now` unless it was set less than a minute before (by
    this process or another): True if written."""
    result = session.execute(
        update(ApiKeyRow)
        .where(
            ApiKeyRow.id == key_id,
            or_(
                ApiKeyRow.last_used_at.is_(None),
                ApiKeyRow.last_used_at <= now - LAST_USED_PRECISION,
            ),
        )
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
