"""The payload codec and the data keys behind it, on SQLite and PostgreSQL: each ticket's
payloads under a key of its own, older plain payloads read as they are, an erased key makes
its payloads unreadable for good, and a new key-encryption key takes over by rotation."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker
from temporalio.api.common.v1 import Payload
from temporalio.api.failure.v1 import Failure
from temporalio.converter import (
    ActivitySerializationContext,
    DataConverter,
    WorkflowSerializationContext,
)
from temporalio.exceptions import ApplicationError

from services import cli
from services.devstack import dev_keys
from shared.crypto.aead import Unsealable
from shared.crypto.key_ring import KeyRing, UnknownKeyEncryptionKey, new_entry
from shared.crypto.key_store import (
    CACHE_TTL_SECONDS,
    SHARED_SCOPE,
    DataKeyErased,
    KeyStore,
    UnknownDataKey,
    rotate,
)
from shared.db import data_keys
from shared.db.engine import make_engine, make_sessionmaker
from shared.domain.ids import ticket_workflow_id
from shared.domain.models import Person
from shared.temporal.codec import ENCODING, KEY_ID, EncryptionCodec
from shared.temporal.converter import data_converter

OLD, NEW = new_entry("old"), new_entry("new")
EMAIL = "alice.secretive@example.com"


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def store(sessions: sessionmaker[Session], keys: str = OLD, clock: Clock | None = None) -> KeyStore:
    return KeyStore(sessions, KeyRing.parse(keys), clock=clock or Clock())


def of(codec: EncryptionCodec, number: str) -> EncryptionCodec:
    context = WorkflowSerializationContext(
        namespace="default", workflow_id=ticket_workflow_id(number)
    )
    return codec.with_context(context)


def converted(value: object) -> Payload:
    return data_converter(None).payload_converter.to_payloads([value])[0]


async def test_a_payload_round_trips_and_shows_nothing_but_its_key(
    sessions: sessionmaker[Session],
) -> None:
    codec = of(EncryptionCodec(store(sessions)), "100000")
    plain = converted(Person(name="Alice Secretive", email=EMAIL))
    [sealed] = await codec.encode([plain])
    assert sealed.metadata["encoding"] == ENCODING and set(sealed.metadata) == {"encoding", KEY_ID}
    assert b"Secretive" not in sealed.SerializeToString() and b"json" not in sealed.data
    # Self-describing: any codec of the process decodes it, whatever its context.
    assert await EncryptionCodec(store(sessions)).decode([sealed]) == [plain]


async def test_payloads_recorded_before_encryption_pass_through(
    sessions: sessionmaker[Session],
) -> None:
    plain = converted({"subject": "from before"})
    assert await EncryptionCodec(store(sessions)).decode([plain]) == [plain]


async def test_each_workflow_has_its_own_key_and_its_activities_share_it(
    sessions: sessionmaker[Session],
) -> None:
    codec = EncryptionCodec(store(sessions))
    plain = [converted("x")]
    first = await of(codec, "100000").encode(plain)
    second = await of(codec, "100001").encode(plain)
    activity = ActivitySerializationContext(
        namespace="default",
        activity_id="1",
        activity_type="publish_ticket",
        activity_task_queue="q",
        workflow_id=ticket_workflow_id("100000"),
        workflow_type="Ticket",
        is_local=False,
    )
    [by_activity] = await codec.with_context(activity).encode(plain)
    [shared] = await codec.encode(plain)  # no workflow: the shared key
    ids = [p.metadata[KEY_ID] for p in (first[0], second[0], by_activity, shared)]
    assert ids[0] != ids[1] and ids[0] == ids[2] and len(set(ids)) == 3
    with sessions() as session:
        row = data_keys.of_scope(session, SHARED_SCOPE)
        assert row is not None and row.id.encode() == ids[3]


async def test_racing_processes_make_one_key_per_ticket(sessions: sessionmaker[Session]) -> None:
    """Eight key stores (as if eight processes) ask for a new ticket's key at once."""
    stores = [store(sessions) for _ in range(8)]
    keys = await asyncio.gather(*(s.for_scope("ticket-100000") for s in stores))
    assert len({key.id for key in keys}) == 1 and len({key.secret for key in keys}) == 1


async def test_an_erased_key_makes_its_payloads_unreadable_everywhere(
    sessions: sessionmaker[Session],
) -> None:
    clock = Clock()
    here, elsewhere = store(sessions, clock=clock), store(sessions, clock=clock)
    [sealed] = await of(EncryptionCodec(here), "100000").encode([converted("x")])
    [other] = await of(EncryptionCodec(here), "100001").encode([converted("y")])
    await EncryptionCodec(elsewhere).decode([sealed])  # cached there now
    assert await here.erase("ticket-100000")
    assert not await here.erase("ticket-100000")  # once
    with pytest.raises(DataKeyErased):
        await EncryptionCodec(here).decode([sealed])
    with pytest.raises(DataKeyErased):  # nothing new is encrypted for it either
        await of(EncryptionCodec(here), "100000").encode([converted("x")])
    # Another process stops using its cached copy within the cache's lifetime.
    await EncryptionCodec(elsewhere).decode([sealed])
    clock.now += CACHE_TTL_SECONDS
    with pytest.raises(DataKeyErased):
        await EncryptionCodec(elsewhere).decode([sealed])
    assert await EncryptionCodec(elsewhere).decode([other]) == [converted("y")]


async def test_a_key_from_another_database_is_unknown(sessions: sessionmaker[Session]) -> None:
    sealed = Payload(metadata={"encoding": ENCODING, KEY_ID: b"0" * 32}, data=b"\0" * 40)
    with pytest.raises(UnknownDataKey):
        await EncryptionCodec(store(sessions)).decode([sealed])


async def test_rotation_rewraps_every_key_and_old_payloads_still_read(
    sessions: sessionmaker[Session],
) -> None:
    sealed = [
        (await of(EncryptionCodec(store(sessions, OLD)), n).encode([converted(n)]))[0]
        for n in ("100000", "100001", "100002")
    ]
    await store(sessions, OLD).erase("ticket-100002")
    with sessions() as session:
        done = rotate(session, KeyRing.parse(f"{NEW},{OLD}"))
    assert done.rewrapped == 2 and done.unreachable == {}
    # The old key-encryption key can go: the new one alone unwraps every data key.
    assert await EncryptionCodec(store(sessions, NEW)).decode(sealed[:2]) == [
        converted("100000"),
        converted("100001"),
    ]
    with pytest.raises(UnknownKeyEncryptionKey):  # the old one no longer does
        await EncryptionCodec(store(sessions, OLD)).decode(sealed[:1])
    with pytest.raises(Unsealable):  # nor another key under the new one's id
        await EncryptionCodec(store(sessions, new_entry("new"))).decode(sealed[:1])
    # New keys are wrapped under the active key-encryption key.
    await of(EncryptionCodec(store(sessions, f"{NEW},{OLD}")), "100003").encode([converted("z")])
    with sessions() as session:
        assert data_keys.count_by_kek(session) == {"new": 3}


async def test_a_failure_travels_encrypted(sessions: sessionmaker[Session]) -> None:
    converter: DataConverter = data_converter(store(sessions))
    failure = Failure()
    await converter.encode_failure(ApplicationError(f"no such requester {EMAIL}"), failure)
    assert EMAIL.encode() not in failure.SerializeToString()
    assert failure.message == "Encoded failure"
    decoded = await converter.decode_failure(failure)
    assert str(decoded) == f"no such requester {EMAIL}"


def test_keys_rotate_command(
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    engine = make_engine(sqlite_url)
    old = store(make_sessionmaker(engine), OLD)
    asyncio.run(old.for_scope("ticket-100000"))
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ENCRYPTION_KEYS", NEW)  # the old key dropped too soon
    assert cli.main(["keys", "rotate"]) == 1
    out = capsys.readouterr()
    assert "re-wrapped 0 data keys" in out.out
    assert "1 data keys are wrapped under 'old'" in out.err
    monkeypatch.setenv("ENCRYPTION_KEYS", f"{NEW},{OLD}")
    assert cli.main(["keys", "rotate"]) == 0
    assert "re-wrapped 1 data keys under key-encryption key 'new'" in capsys.readouterr().out
    monkeypatch.delenv("ENCRYPTION_KEYS")
    assert cli.main(["keys", "rotate"]) == 2
    assert "ENCRYPTION_KEYS is unset" in capsys.readouterr().err


def test_erasure_leaves_a_tombstone(sessions: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    with sessions() as session:
        data_keys.create(session, key_id="a" * 32, scope="s", kek_id="k", wrapped=b"w", now=now)
        # A racing creator's own key is dropped: the first one stays the scope's.
        again = data_keys.create(
            session, key_id="b" * 32, scope="s", kek_id="k", wrapped=b"v", now=now
        )
        assert again.id == "a" * 32
        assert data_keys.erase(session, "s", now)
        session.commit()
    with sessions() as session:
        row = data_keys.by_id(session, "a" * 32)
        assert row is not None and row.wrapped is None and row.erased_at is not None


def test_the_dev_stack_makes_its_key_once_and_keeps_it(tmp_path: Path) -> None:
    var = tmp_path / "var"
    first = dev_keys(var)
    assert KeyRing.parse(first).active == "dev-1"
    assert (var / "encryption-keys").stat().st_mode & 0o777 == 0o600
    assert dev_keys(var) == first
