"""Data keys by scope (a ticket's workflow id, or the shared scope), unwrapped and cached.

Each ticket's payloads are encrypted under a key of its own, so erasing that key (GDPR) makes
them unreadable for good without rewriting Temporal's history. The keys are kept in the
database wrapped under ENCRYPTION_KEYS (shared.db.data_keys); unwrapped, each is cached in the
process for CACHE_TTL_SECONDS, so an erasure in another process takes effect here that soon.
"""

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from shared.crypto.aead import new_key
from shared.crypto.key_ring import KeyRing
from shared.db import data_keys
from shared.db.engine import engine_for, make_sessionmaker
from shared.db.tables import DataKeyRow
from shared.db.threads import in_thread
from shared.settings import Settings

# The scope of payloads that belong to no workflow (a schedule's, say).
SHARED_SCOPE = "shared"
CACHE_TTL_SECONDS = 30.0
CACHE_SIZE = 4096
REWRAP_BATCH = 500


class DataKeyErased(LookupError):
    """The data key was erased: what it encrypted is gone for good."""


class UnknownDataKey(LookupError):
    """No data key has this id in this database: it was made against another one."""


@dataclass(frozen=True)
class DataKey:
    id: str
    scope: str
    secret: bytes = field(repr=False)


@dataclass(frozen=True)
class Rotation:
    rewrapped: int
    # Keys left under key-encryption keys ENCRYPTION_KEYS no longer holds, by their id.
    unreachable: dict[str, int]


class KeyStore:
    """Get-or-create by scope (to encrypt), get by id (to decrypt), erase. The database work
    runs in worker threads; the cache is shared by every thread of the process."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        ring: KeyRing,
        *,
        ttl: float = CACHE_TTL_SECONDS,
        size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sessions = sessions
        self._ring = ring
        self._by_scope = _Cache(ttl, size, clock)
        self._by_id = _Cache(ttl, size, clock)

    async def for_scope(self, scope: str) -> DataKey:
        """The scope's key, made now if it has none (DataKeyErased once erased)."""
        key = self._by_scope.get(scope)
        if key is None:
            key = await in_thread(self._load_or_create, scope)
            self._remember(key)
        return key

    async def by_id(self, key_id: str) -> DataKey:
        """The key with this id (DataKeyErased, UnknownDataKey)."""
        key = self._by_id.get(key_id)
        if key is None:
            key = await in_thread(self._load, key_id)
            self._remember(key)
        return key

    def forget(self, scope: str) -> None:
        """Drop the scope's key from this process's cache: its next use reads the database."""
        self._by_scope.drop(lambda key: key.scope == scope)
        self._by_id.drop(lambda key: key.scope == scope)

    async def erase(self, scope: str) -> bool:
        """Erase the scope's key for good; False if it had none. Other processes stop using
        their cached copy within CACHE_TTL_SECONDS."""
        erased = await in_thread(self._erase, scope)
        self.forget(scope)
        return erased

    def _remember(self, key: DataKey) -> None:
        self._by_scope.put(key.scope, key)
        self._by_id.put(key.id, key)

    def _load_or_create(self, scope: str) -> DataKey:
        with self._sessions() as session:
            row = data_keys.of_scope(session, scope)
            if row is None:
                key_id = secrets.token_hex(16)
                kek_id, wrapped = self._ring.wrap(new_key(), associated_data(key_id, scope))
                row = data_keys.create(
                    session,
                    key_id=key_id,
                    scope=scope,
                    kek_id=kek_id,
                    wrapped=wrapped,
                    now=datetime.now(UTC),
                )
                session.commit()
            return self._unwrapped(row)

    def _load(self, key_id: str) -> DataKey:
        with self._sessions() as session:
            row = data_keys.by_id(session, key_id)
        if row is None:
            raise UnknownDataKey(f"no data key {key_id!r} in this database")
        return self._unwrapped(row)

    def _erase(self, scope: str) -> bool:
        with self._sessions() as session:
            erased = data_keys.erase(session, scope, datetime.now(UTC))
            session.commit()
        return erased

    def _unwrapped(self, row: DataKeyRow) -> DataKey:
        if row.kek_id is None or row.wrapped is None:
            raise DataKeyErased(f"the data key of {row.scope} was erased")
        secret = self._ring.unwrap(row.kek_id, row.wrapped, associated_data(row.id, row.scope))
        return DataKey(id=row.id, scope=row.scope, secret=secret)


def associated_data(key_id: str, scope: str) -> bytes:
    """What a wrapped key is bound to: a wrapped key copied to another row does not unwrap."""
    return f"ticketflow data key {key_id} {scope}".encode()


def rotate(session: Session, ring: KeyRing) -> Rotation:
    """Re-wrap under the active key-encryption key every data key wrapped under another that
    `ring` holds; the data keys themselves, and so every payload, stay as they are."""
    older = [kek_id for kek_id in ring.keys if kek_id != ring.active]
    rewrapped = 0
    while rows := data_keys.wrapped_under(session, older, REWRAP_BATCH):
        for row in rows:
            assert row.kek_id is not None and row.wrapped is not None
            bound = associated_data(row.id, row.scope)
            _, wrapped = ring.wrap(ring.unwrap(row.kek_id, row.wrapped, bound), bound)
            rewrapped += data_keys.rewrap(session, row, ring.active, wrapped)
        session.commit()
    counts = data_keys.count_by_kek(session)
    return Rotation(rewrapped, {kek: n for kek, n in counts.items() if kek not in ring.keys})


def key_store_for(settings: Settings) -> KeyStore | None:
    """The process's key store, on its own engine; None without ENCRYPTION_KEYS."""
    ring = settings.key_ring
    if ring is None:
        return None
    return KeyStore(make_sessionmaker(engine_for(settings)), ring)


class _Cache:
    """Keys by name, each for `ttl` seconds, the least recently used dropped past `size`."""

    def __init__(self, ttl: float, size: int, clock: Callable[[], float]) -> None:
        self._ttl, self._size, self._clock = ttl, size, clock
        self._entries: OrderedDict[str, tuple[float, DataKey]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, name: str) -> DataKey | None:
        with self._lock:
            entry = self._entries.get(name)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[name]
                return None
            self._entries.move_to_end(name)
            return entry[1]

    def put(self, name: str, key: DataKey) -> None:
        with self._lock:
            self._entries[name] = (self._clock() + self._ttl, key)
            self._entries.move_to_end(name)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def drop(self, which: Callable[[DataKey], bool]) -> None:
        with self._lock:
            for name in [name for name, (_, key) in self._entries.items() if which(key)]:
                del self._entries[name]
