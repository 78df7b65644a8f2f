"""Claims on external references: which ticket a reference (jira:OPS-12) belongs to.

The intake claims a reference before the create or link that attaches it, in the database
that every intake shares, so two tickets never get the same one however many requests race:
the claim's primary key decides. A claim whose ticket never took the reference up (its link
was refused, its create never started) is taken over by compare-and-set, once the request
that made it is over for certain. The workflow's publish step releases a reference its ticket
unlinked, and claims one a signal linked.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shared.db.tables import ExternalRefClaimRow
from shared.domain.models import ExternalRef

Key = tuple[str, str]  # (system, id)


@dataclass(frozen=True)
class RefClaim:
    ticket: str
    # As the database returns it (naive UTC on SQLite): compared back as it came.
    claimed_at: datetime

    def older_than(self, moment: datetime) -> bool:
        at = self.claimed_at
        return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)) < moment


def claims_of(session: Session, keys: Iterable[Key]) -> dict[Key, RefClaim]:
    wanted = list(dict.fromkeys(keys))
    if not wanted:
        return {}
    rows = session.execute(
        select(
            ExternalRefClaimRow.system,
            ExternalRefClaimRow.ref_id,
            ExternalRefClaimRow.ticket,
            ExternalRefClaimRow.claimed_at,
        ).where(or_(*(_is(key) for key in wanted)))
    )
    return {(row.system, row.ref_id): RefClaim(row.ticket, row.claimed_at) for row in rows}


def claim(
    session: Session, key: Key, ticket: str, now: datetime, *, replacing: RefClaim | None = None
) -> str:
    """RefClaim `key` for `ticket`, or renew the time of its claim if it has it (a request that
    will attach it is under way); with `replacing`, the stale claim seen before, take that
    over if it is still exactly as seen. The ticket the reference belongs to afterwards."""
    while True:  # until the insert wins or a claim is found (it may be released meanwhile)
        if _insert(session, key, ticket, now):
            return ticket
        row = session.execute(
            select(ExternalRefClaimRow.ticket, ExternalRefClaimRow.claimed_at).where(_is(key))
        ).one_or_none()
        if row is not None:
            break
    if row.ticket == ticket:
        session.execute(
            update(ExternalRefClaimRow)
            .where(_is(key), ExternalRefClaimRow.ticket == ticket)
            .values(claimed_at=now)
        )
        return ticket
    if replacing is not None and RefClaim(row.ticket, row.claimed_at) == replacing:
        taken = session.execute(
            update(ExternalRefClaimRow)
            .where(
                _is(key),
                ExternalRefClaimRow.ticket == replacing.ticket,
                ExternalRefClaimRow.claimed_at == replacing.claimed_at,
            )
            .values(ticket=ticket, claimed_at=now)
        )
        if _count(taken) == 1:
            return ticket
    return str(row.ticket)


class Taken(Exception):
    """Another ticket has one of the references claimed."""

    def __init__(self, ticket: str) -> None:
        super().__init__(ticket)
        self.ticket = ticket


def claim_all(
    session: Session,
    refs: list[ExternalRef],
    ticket: str,
    now: datetime,
    *,
    stale: dict[Key, RefClaim],
    leave_taken: bool,
) -> list[ExternalRef]:
    """RefClaim each of `refs` for `ticket` (taking over the `stale` claims): those it got.
    One claimed by another ticket raises `Taken`, or with `leave_taken` is left out."""
    kept = []
    for ref in refs:
        owner = claim(session, ref.key, ticket, now, replacing=stale.get(ref.key))
        if owner == ticket:
            kept.append(ref)
        elif not leave_taken:
            raise Taken(owner)
    return kept


def ensure(session: Session, key: Key, ticket: str, now: datetime) -> str:
    """RefClaim `key` for `ticket` unless it is claimed already; the ticket it belongs to."""
    if _insert(session, key, ticket, now):
        return ticket
    owner = session.scalar(select(ExternalRefClaimRow.ticket).where(_is(key)))
    return owner if owner is not None else ticket


def release(session: Session, keys: Iterable[Key], ticket: str) -> None:
    """Free `keys` that `ticket` has claimed (it unlinked them); others' claims stay."""
    for key in keys:
        session.execute(
            delete(ExternalRefClaimRow).where(_is(key), ExternalRefClaimRow.ticket == ticket)
        )


def _insert(session: Session, key: Key, ticket: str, now: datetime) -> bool:
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    system, ref_id = key
    result = session.execute(
        insert(ExternalRefClaimRow)
        .values(system=system, ref_id=ref_id, ticket=ticket, claimed_at=now)
        .on_conflict_do_nothing()
    )
    return _count(result) == 1


def _is(key: Key) -> Any:
    return and_(ExternalRefClaimRow.system == key[0], ExternalRefClaimRow.ref_id == key[1])


def _count(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
