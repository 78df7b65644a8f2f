"""External references on real databases (SQLite and PostgreSQL): the publish step keeps
`ticket_external_refs` and the claims in step with the ticket; a claim goes to exactly one of
two racing tickets and is taken over only as seen; the list filter finds a ticket by one."""

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from services.intake.ticket_list import TicketFilter, list_tickets
from services.workflows.activities import TicketActivities
from shared.db import keys, ref_claims
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import ExternalRefClaimRow, TicketExternalRefRow
from shared.domain import lifecycle
from shared.domain.enums import Action, ActorKind
from shared.domain.models import Actor, ExternalRef, PublishBatch, TicketCommand, TicketState
from tests.builders import new_input

T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)
JANE = Actor(kind=ActorKind.AGENT, name="Jane", handle="jane")
JIRA = ExternalRef(system="jira", id="OPS-1", url="https://jira.example.com/browse/OPS-1")
CRM = ExternalRef(system="crm", id="C/7:x")


def activities(url: str) -> TicketActivities:
    return TicketActivities(make_sessionmaker(make_engine(url)))


def publish(acts: TicketActivities, state: TicketState) -> list[str]:
    return acts.publish_ticket(PublishBatch(state=state.model_copy(deep=True)))


def apply(state: TicketState, action: Action, ref: ExternalRef, minutes: int) -> None:
    cmd = TicketCommand(
        command_id=f"{action}-{ref.label}-{minutes}", action=action, actor=JANE, external_ref=ref
    )
    lifecycle.apply(state, cmd, T0 + timedelta(minutes=minutes))


def forget_published(state: TicketState) -> None:
    """What the workflow drops once a batch is published (its timeline tail)."""
    state.timeline = []
    state.thread = []


def stored(acts: TicketActivities) -> dict[str, list[tuple[str, str, str]]]:
    with acts._sessions() as session:
        rows = session.scalars(select(TicketExternalRefRow)).all()
        claims = session.scalars(select(ExternalRefClaimRow)).all()
        return {
            "rows": sorted((r.ticket, r.system, r.ref_id) for r in rows),
            "claims": sorted((c.ticket, c.system, c.ref_id) for c in claims),
        }


def test_publish_keeps_the_table_and_claims_in_step_with_the_ticket(database_url: str) -> None:
    acts = activities(database_url)
    state, _ = lifecycle.open_ticket(new_input(number="510001", external_refs=[JIRA]), T0)
    publish(acts, state)
    assert stored(acts) == {
        "rows": [("510001", "jira", "OPS-1")],
        "claims": [("510001", "jira", "OPS-1")],
    }
    forget_published(state)
    apply(state, Action.LINK, CRM, 1)
    apply(state, Action.LINK, JIRA.model_copy(update={"url": "https://j.example/OPS-1"}), 2)
    publish(acts, state)
    assert publish(acts, state) == [f"v{state.version} was already published"]
    with acts._sessions() as session:
        rows = session.execute(select(TicketExternalRefRow.ref_id, TicketExternalRefRow.url))
        urls = {row.ref_id: row.url for row in rows}
    assert urls == {"OPS-1": "https://j.example/OPS-1", "C/7:x": None}
    forget_published(state)
    apply(state, Action.UNLINK, JIRA, 3)
    publish(acts, state)
    # Unlinked: gone from the table, and its claim released for any other ticket.
    assert stored(acts) == {
        "rows": [("510001", "crm", "C/7:x")],
        "claims": [("510001", "crm", "C/7:x")],
    }


def test_a_reference_claimed_by_another_ticket_is_not_published(database_url: str) -> None:
    acts = activities(database_url)
    with acts._sessions.begin() as session:
        assert ref_claims.claim(session, JIRA.key, "520002", T0) == "520002"
    # A link sent as a plain signal skips the intake's claim.
    state, _ = lifecycle.open_ticket(new_input(number="520001", external_refs=[JIRA, CRM]), T0)
    done = publish(acts, state)
    assert "jira:OPS-1 not published: it belongs to ticket 520002" in done
    assert stored(acts)["rows"] == [("520001", "crm", "C/7:x")]


def test_the_claims_holder_takes_the_row_of_an_unlink_not_yet_published(
    database_url: str,
) -> None:
    acts = activities(database_url)
    first, _ = lifecycle.open_ticket(new_input(number="530001", external_refs=[JIRA]), T0)
    publish(acts, first)
    forget_published(first)
    apply(first, Action.UNLINK, JIRA, 1)  # applied, its publish late
    with acts._sessions.begin() as session:
        [claim] = ref_claims.claims_of(session, [JIRA.key]).values()
        assert ref_claims.claim(session, JIRA.key, "530002", T0, replacing=claim) == "530002"
    second, _ = lifecycle.open_ticket(new_input(number="530002", external_refs=[JIRA]), T0)
    publish(acts, second)
    publish(acts, first)  # the late unlink deletes only what is still its own
    assert stored(acts) == {
        "rows": [("530002", "jira", "OPS-1")],
        "claims": [("530002", "jira", "OPS-1")],
    }


def test_a_claim_is_renewed_by_its_ticket_and_taken_over_only_as_seen(database_url: str) -> None:
    sessions = make_sessionmaker(make_engine(database_url))
    with sessions.begin() as session:
        assert ref_claims.claim(session, JIRA.key, "540001", T0) == "540001"
        assert ref_claims.claim(session, JIRA.key, "540002", T0) == "540001"
        seen = ref_claims.claims_of(session, [JIRA.key])[JIRA.key]
        assert ref_claims.claim(session, JIRA.key, "540001", T0 + timedelta(seconds=1)) == "540001"
        # Renewed since it was seen: the takeover misses.
        assert ref_claims.claim(session, JIRA.key, "540002", T0, replacing=seen) == "540001"
        renewed = ref_claims.claims_of(session, [JIRA.key])[JIRA.key]
        assert renewed.older_than(T0 + timedelta(seconds=2))
        assert not renewed.older_than(T0 + timedelta(seconds=1))
        assert ref_claims.claim(session, JIRA.key, "540002", T0, replacing=renewed) == "540002"
    with pytest.raises(ref_claims.Taken) as taken, sessions.begin() as session:
        ref_claims.claim_all(session, [CRM, JIRA], "540003", T0, stale={}, leave_taken=False)
    assert taken.value.ticket == "540002"
    with sessions() as session:  # rolled back: the CRM claim went with it
        assert ref_claims.claims_of(session, [CRM.key]) == {}
    with sessions.begin() as session:
        kept = ref_claims.claim_all(session, [CRM, JIRA], "540003", T0, stale={}, leave_taken=True)
    assert kept == [CRM]


def test_two_racing_claims_on_one_reference_give_it_to_one_ticket(database_url: str) -> None:
    # Two engines, as two intake processes would have; both claim inside open transactions.
    engines = [make_engine(database_url) for _ in range(2)]
    try:
        for round_ in range(5):
            key = ("jira", f"RACE-{round_}")
            barrier = threading.Barrier(2)
            owners: dict[str, str] = {}

            def claim(
                index: int,
                key: tuple[str, str] = key,
                barrier: Any = barrier,
                owners: dict[str, str] = owners,
            ) -> None:
                ticket = f"55000{index}"
                with make_sessionmaker(engines[index]).begin() as session:
                    barrier.wait(timeout=10)
                    owners[ticket] = ref_claims.claim(session, key, ticket, T0)

            threads = [threading.Thread(target=claim, args=(i,)) for i in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=30)
            assert len(owners) == 2 and len(set(owners.values())) == 1, owners
            with make_sessionmaker(engines[0])() as session:
                [held] = ref_claims.claims_of(session, [key]).values()
            assert held.ticket == owners["550000"]
    finally:
        for engine in engines:
            engine.dispose()


def test_the_list_filter_finds_a_ticket_by_reference(database_url: str) -> None:
    acts = activities(database_url)
    for number, refs in (("560001", [JIRA]), ("560002", [CRM]), ("560003", [])):
        state, _ = lifecycle.open_ticket(new_input(number=number, external_refs=refs), T0)
        publish(acts, state)
    with acts._sessions() as session:
        found = list_tickets(session=session, filters=TicketFilter(external="jira:OPS-1"))
        assert [t.number for t in found.items] == ["560001"] and found.total == 1
        found = list_tickets(session=session, filters=TicketFilter(external="crm:C/7:x"))
        assert [t.number for t in found.items] == ["560002"]
        none = list_tickets(session=session, filters=TicketFilter(external="jira:OPS-2"))
        assert none.items == [] and none.total == 0
        both = TicketFilter(external="jira:OPS-1", status="closed")
        assert list_tickets(session=session, filters=both).total == 0
    for bad in ("OPS-1", "JIRA:OPS-1", "jira:", "jira:\x00"):
        with pytest.raises(ValidationError):
            TicketFilter(external=bad)


def test_a_number_is_issued_once_its_key_is_recorded(database_url: str) -> None:
    sessions = make_sessionmaker(make_engine(database_url))
    with sessions.begin() as session:
        number = keys.claim_key(session, "k" * 64, "f", T0)
        assert number is not None
    with sessions() as session:
        assert keys.issued(session, number.number)
        assert keys.number_of_key(session, "k" * 64) == number.number
        assert keys.number_of_key(session, "x" * 64) is None
        assert not keys.issued(session, str(int(number.number) + 1))
        # Past the id column's range: no key, and no database error either.
        assert not keys.issued(session, "9999999999999999")
