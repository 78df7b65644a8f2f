"""Ticket numbers come from the database in order and never run out: six digits first, then
seven and more, each in one insert whatever is taken; a key keeps its number for good."""

from datetime import UTC, datetime

from sqlalchemy import insert

from shared.db import keys
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import TicketKeyRow

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def test_numbers_start_at_six_digits_and_grow_past_them(database_url: str) -> None:
    sessions = make_sessionmaker(make_engine(database_url))
    with sessions.begin() as session:
        first = keys.claim_key(session, "k-first", "f", NOW)
    assert first is not None and len(first.number) == 6 and first.new
    # Almost every six-digit number is taken: the next ticket still takes one insert.
    with sessions.begin() as session:
        session.execute(
            insert(TicketKeyRow).values(
                id=899_999, key_hash="k-filler", fingerprint="", created_at=NOW
            )
        )
    if sessions.kw["bind"].dialect.name == "postgresql":
        with sessions.begin() as session:
            session.execute(
                __import__("sqlalchemy").text(
                    "SELECT setval(pg_get_serial_sequence('ticket_keys', 'id'), 899999)"
                )
            )
    with sessions.begin() as session:
        last_short = keys.claim_key(session, "k-last-short", "f", NOW)
        first_long = keys.claim_key(session, "k-first-long", "f", NOW)
    assert last_short is not None and last_short.number == "999999"
    assert first_long is not None and first_long.number == "1000000"


def test_a_key_keeps_its_number_and_refuses_another_request(database_url: str) -> None:
    sessions = make_sessionmaker(make_engine(database_url))
    with sessions.begin() as session:
        made = keys.claim_key(session, "k-same", "fingerprint-a", NOW)
    with sessions.begin() as session:
        again = keys.claim_key(session, "k-same", "fingerprint-a", NOW)
        other = keys.claim_key(session, "k-same", "fingerprint-b", NOW)
    assert made is not None and again is not None
    assert again.number == made.number and not again.new
    assert other is None
