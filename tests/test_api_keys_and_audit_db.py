"""API keys and the audit log on real databases (SQLite and PostgreSQL): secrets stored only
as hashes, expiry and revocation, last use noted at most once a minute (across sessions), and
audit entries that commit or roll back with their change, read newest first."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from shared.access import hash_token
from shared.db import api_keys, audit
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import ApiKeyRow, AuditEntryRow
from shared.domain.audit import AuditAction, AuditEntity
from shared.domain.enums import ActorKind
from shared.domain.models import Actor
from shared.domain.scopes import Scope

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
JANE = Actor(kind=ActorKind.AGENT, name="Jane", handle="jane")


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def new_key(
    sessions: sessionmaker[Session],
    scopes: tuple[Scope, ...] = (Scope.TICKETS_READ,),
    expires_at: datetime | None = None,
) -> tuple[int, str]:
    with sessions.begin() as session:
        row, secret = api_keys.create(
            session, name="crm", scopes=scopes, expires_at=expires_at, created_by="jane", now=T0
        )
        return row.id, secret


def test_a_key_is_stored_as_its_hash_with_a_recognisable_prefix(
    sessions: sessionmaker[Session],
) -> None:
    key_id, secret = new_key(
        sessions, (Scope.TICKETS_WRITE, Scope.TICKETS_READ, Scope.TICKETS_READ)
    )
    assert secret.startswith("tfk_") and len(secret) > 40
    with sessions() as session:
        row = session.get(ApiKeyRow, key_id)
        assert row is not None
        assert row.secret_hash == hash_token(secret) and secret not in row.secret_hash
        assert row.prefix == secret[:12]
        assert row.scopes == ["tickets:read", "tickets:write"]  # deduplicated, sorted
        stored = [str(value) for value in session.execute(select(ApiKeyRow.__table__)).one()]
    assert all(secret not in value for value in stored)


def test_a_valid_key_authenticates_with_its_scopes(sessions: sessionmaker[Session]) -> None:
    key_id, secret = new_key(sessions, (Scope.TICKETS_CREATE, Scope.EVENTS_READ))
    with sessions.begin() as session:
        found = api_keys.authenticate(session, secret, T0)
        assert api_keys.authenticate(session, secret + "x", T0) is None
        assert api_keys.authenticate(session, "tfk_unknown", T0) is None
    assert found == api_keys.ValidKey(
        id=key_id, name="crm", scopes=frozenset({Scope.TICKETS_CREATE, Scope.EVENTS_READ})
    )


def test_an_expired_key_no_longer_authenticates(sessions: sessionmaker[Session]) -> None:
    _, secret = new_key(sessions, expires_at=T0 + timedelta(hours=1))
    with sessions.begin() as session:
        assert api_keys.authenticate(session, secret, T0 + timedelta(minutes=59)) is not None
        assert api_keys.authenticate(session, secret, T0 + timedelta(hours=1)) is None
        assert api_keys.authenticate(session, secret, T0 + timedelta(days=1)) is None


def test_a_revoked_key_fails_at_once_and_revoking_again_keeps_the_first_time(
    sessions: sessionmaker[Session],
) -> None:
    key_id, secret = new_key(sessions)
    with sessions.begin() as session:
        row = api_keys.get(session, key_id)
        assert row is not None
        assert api_keys.revoke(session, row, T0 + timedelta(minutes=1)) is True
    with sessions.begin() as session:  # another session: nothing cached
        assert api_keys.authenticate(session, secret, T0 + timedelta(minutes=1)) is None
        row = api_keys.get(session, key_id)
        assert row is not None
        assert api_keys.revoke(session, row, T0 + timedelta(minutes=5)) is False
        assert api_keys.utc(row.revoked_at) == T0 + timedelta(minutes=1)


def last_used(sessions: sessionmaker[Session], key_id: int) -> datetime | None:
    with sessions() as session:
        return api_keys.utc(
            session.scalar(select(ApiKeyRow.last_used_at).where(ApiKeyRow.id == key_id))
        )


def test_last_use_is_written_at_most_once_a_minute(sessions: sessionmaker[Session]) -> None:
    key_id, secret = new_key(sessions)
    assert last_used(sessions, key_id) is None
    for seconds in (0, 10, 30, 59):
        with sessions.begin() as session:
            assert api_keys.authenticate(session, secret, T0 + timedelta(seconds=seconds))
    assert last_used(sessions, key_id) == T0  # the first use; the next 59 s wrote nothing
    with sessions.begin() as session:
        assert api_keys.authenticate(session, secret, T0 + timedelta(seconds=61))
    assert last_used(sessions, key_id) == T0 + timedelta(seconds=61)


def test_the_conditional_touch_writes_once_whoever_races(sessions: sessionmaker[Session]) -> None:
    """Two processes that both read a stale last use: only the first update writes."""
    key_id, _ = new_key(sessions)
    with sessions.begin() as session:
        assert api_keys.touch(session, key_id, T0) is True
    with sessions.begin() as session:
        assert api_keys.touch(session, key_id, T0 + timedelta(seconds=30)) is False
    with sessions.begin() as session:
        assert api_keys.touch(session, key_id, T0 + timedelta(seconds=90)) is True
    assert last_used(sessions, key_id) == T0 + timedelta(seconds=90)


def test_audit_entries_are_listed_newest_first_and_filtered(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        for n in range(3):
            audit.record_change(
                session,
                actor=JANE,
                entity=AuditEntity.TEAM,
                entity_id=f"t{n}",
                before=None,
                after={"handle": f"t{n}"},
            )
        audit.record_change(
            session,
            actor=JANE,
            entity=AuditEntity.AGENT,
            entity_id="john",
            before={"role": "agent"},
            after={"role": "admin"},
        )
    with sessions() as session:
        rows, total = audit.entries(session)
        assert total == 4 and [r.entity_id for r in rows] == ["john", "t2", "t1", "t0"]
        teams, total = audit.entries(session, entity="team", page=2, per_page=2)
        assert total == 3 and [r.entity_id for r in teams] == ["t0"]
        john, _ = audit.entries(session, entity="agent", entity_id="john")
    assert john[0].action == "updated" and john[0].changes == {"role": ["agent", "admin"]}
    assert john[0].summary == """updated agent 'john': role "agent" → "admin\""""
    assert (john[0].actor_kind, john[0].actor_handle, john[0].actor_name) == (
        "agent",
        "jane",
        "Jane",
    )


def test_an_unchanged_record_writes_no_entry(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        same = {"handle": "ob", "name": "OB"}
        entry = audit.record_change(
            session, actor=JANE, entity=AuditEntity.TEAM, entity_id="ob", before=same, after=same
        )
        assert entry is None
        assert session.scalars(select(AuditEntryRow)).all() == []


def test_an_audit_entry_rolls_back_with_its_change(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        api_keys.create(
            session, name="gone", scopes=[Scope.ADMIN], expires_at=None, created_by="j", now=T0
        )
        audit.record(
            session,
            actor=JANE,
            action=AuditAction.CREATED,
            entity=AuditEntity.API_KEY,
            entity_id="1",
        )
        session.rollback()
    with sessions() as session:
        assert session.scalars(select(AuditEntryRow)).all() == []
        assert session.scalars(select(ApiKeyRow)).all() == []
