"""The change feed: every published integration event, in one total order, read by cursor.

A cursor names the last event a reader has seen. On PostgreSQL the order is (publishing
transaction id, position) and a page holds only events of transactions older than any still
running: a transaction that commits later always sorts after every event already served, so
a reader that resumes from its cursor sees each event exactly once.
"""

import base64
import binascii
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, func, select, tuple_
from sqlalchemy.orm import Session
from sqlalchemy.types import UserDefinedType

from shared.db.tables import FeedEventRow, MessageBodyRow
from shared.db.writes import dialect_of, insert_new
from shared.domain.events import EventType, events_of
from shared.domain.models import TicketState

# The publishing transaction's id (one SQL expression, so the insert's compiled form is kept).
TXID = func.txid_current()


class _TxidSnapshot(UserDefinedType[str]):
    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "txid_snapshot"


TXID_SNAPSHOT = _TxidSnapshot()


class BadCursor(ValueError):
    pass


@dataclass(frozen=True, order=True)
class Cursor:
    txid: int = 0
    position: int = 0

    def encode(self) -> str:
        raw = f"{self.txid}.{self.position}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            txid, position = (int(part) for part in raw.split("."))
        except (binascii.Error, UnicodeDecodeError, ValueError) as err:
            raise BadCursor(f"not a cursor of this feed: {text[:60]!r}") from err
        if txid < 0 or position < 0 or max(txid, position) >= 2**63:
            raise BadCursor(f"not a cursor of this feed: {text[:60]!r}")
        return cls(txid, position)


@dataclass(frozen=True)
class Page:
    events: list[dict[str, Any]]
    cursor: Cursor  # the last event served, or the cursor asked for when none was


def append_events(session: Session, state: TicketState, *, traceparent: str | None = None) -> int:
    """Add the integration events of the timeline `state` is publishing; how many.
    `traceparent`: the trace their webhook deliveries belong to."""
    rows = [
        {
            "event_id": event.id,
            "ticket": event.ticket,
            "seq": event.seq,
            "type": event.type.value,
            "internal": event.internal,
            "at": event.at,
            "payload": event.model_dump(mode="json"),
            "traceparent": traceparent,
        }
        for event in events_of(state)
    ]
    if dialect_of(session) == "postgresql":
        insert_new(session, FeedEventRow, rows, txid=TXID)
    else:
        insert_new(session, FeedEventRow, rows, txid=0)
    return len(rows)


def read_page(
    session: Session,
    after: Cursor,
    limit: int,
    types: Collection[EventType] = (),
    ticket: str | None = None,
    until: Cursor | None = None,
) -> Page:
    """Up to `limit` events after `after` (and not after `until`), oldest first, each with
    its message's text."""
    order = tuple_(FeedEventRow.txid, FeedEventRow.position)
    query = (
        select(FeedEventRow.txid, FeedEventRow.position, FeedEventRow.payload)
        .where(order > tuple_(after.txid, after.position))
        .order_by(FeedEventRow.txid, FeedEventRow.position)
        .limit(limit)
    )
    if until is not None:
        query = query.where(order <= tuple_(until.txid, until.position))
    if session.get_bind().dialect.name == "postgresql":
        settled = func.txid_snapshot_xmin(func.txid_current_snapshot())
        query = query.where(FeedEventRow.txid < settled)
    if types:
        query = query.where(FeedEventRow.type.in_([t.value for t in types]))
    if ticket is not None:
        query = query.where(FeedEventRow.ticket == ticket)
    rows = session.execute(query).all()
    if not rows:
        return Page([], after)
    events = [dict(row.payload) for row in rows]
    _attach_messages(session, events)
    return Page(events, Cursor(rows[-1].txid, rows[-1].position))


def end_cursor(session: Session) -> Cursor:
    """The cursor after the last event a reader can be served now: where "from now on"
    starts (on PostgreSQL, events of transactions still running come after it)."""
    query = select(FeedEventRow.txid, FeedEventRow.position).order_by(
        FeedEventRow.txid.desc(), FeedEventRow.position.desc()
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.where(
            FeedEventRow.txid < func.txid_snapshot_xmin(func.txid_current_snapshot())
        )
    row = session.execute(query.limit(1)).first()
    return Cursor(row.txid, row.position) if row is not None else Cursor()


def snapshot(session: Session) -> str | None:
    """PostgreSQL: the transactions committed as of now, as text (`xmin:xmax:xip,…`), for
    `committed_in`; None on SQLite, whose feed has no transactions still to commit."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return session.scalar(select(cast(func.txid_current_snapshot(), Text)))


def committed_in(session: Session, event_ids: Collection[str], seen: str) -> set[str]:
    """Those of the events whose transaction had committed in the snapshot `seen`."""
    if not event_ids:
        return set()
    visible = func.txid_visible_in_snapshot(FeedEventRow.txid, cast(seen, TXID_SNAPSHOT))
    query = select(FeedEventRow.event_id).where(FeedEventRow.event_id.in_(event_ids), visible)
    return set(session.scalars(query))


def snapshot_horizon(seen: str) -> int:
    """Every transaction id from this one on began after the snapshot `seen` was taken."""
    return int(seen.split(":")[1])


def events_by_id(session: Session, event_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """The events with these ids (those that exist), as the feed serves them."""
    if not event_ids:
        return {}
    rows = session.execute(
        select(FeedEventRow.event_id, FeedEventRow.payload).where(
            FeedEventRow.event_id.in_(event_ids)
        )
    ).all()
    events = {row.event_id: dict(row.payload) for row in rows}
    _attach_messages(session, list(events.values()))
    return events


def _attach_messages(session: Session, events: list[dict[str, Any]]) -> None:
    ids = {e["data"]["message"] for e in events if "message" in e["data"]}
    if not ids:
        return
    query = select(MessageBodyRow.id, MessageBodyRow.body).where(MessageBodyRow.id.in_(ids))
    bodies: dict[str, str] = {row.id: row.body for row in session.execute(query)}
    for event in events:
        message = event["data"].get("message")
        if message is not None:
            event["message"] = {"id": message, "body": bodies.get(message, "")}
