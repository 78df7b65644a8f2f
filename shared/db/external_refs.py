"""The published external references of tickets (`ticket_external_refs`), written by the
publish step in its transaction, and read by the ticket list's `external` filter."""

from sqlalchemy import ColumnElement, and_, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shared.db import ref_claims
from shared.db.tables import TicketExternalRefRow, TicketRow
from shared.domain.enums import EventKind
from shared.domain.models import TicketState

# Timeline events after which a ticket's references may differ from those published (and
# creation, if it came with some).
CHANGES_REFS = frozenset({EventKind.LINKED, EventKind.UNLINKED})


def publish_refs(session: Session, state: TicketState) -> list[str]:
    """Make the ticket's published references those its state holds, when its unpublished
    timeline says they may have changed; what could not be published, said for the UI.

    Unlinked references are deleted and their claims released. A reference claimed by another
    ticket is left to it: that happens only to a link sent as a plain signal, which skips the
    intake's claim.
    """
    kinds = {event.kind for event in state.timeline}
    created_with_refs = EventKind.CREATED in kinds and bool(state.external_refs)
    if not (created_with_refs or kinds & CHANGES_REFS):
        return []
    number = state.number
    held = {ref.key: ref for ref in state.external_refs}
    published = {
        (row.system, row.ref_id): row.url
        for row in session.execute(
            select(
                TicketExternalRefRow.system, TicketExternalRefRow.ref_id, TicketExternalRefRow.url
            ).where(TicketExternalRefRow.ticket == number)
        )
    }
    gone = [key for key in published if key not in held]
    for key in gone:
        session.execute(delete(TicketExternalRefRow).where(_is(key, number)))
    ref_claims.release(session, gone, number)
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    at = state.updated_at or state.created_at
    refused: list[str] = []
    for key, ref in held.items():
        if key in published:
            if published[key] != ref.url:
                change = update(TicketExternalRefRow).where(_is(key, number)).values(url=ref.url)
                session.execute(change)
            continue
        owner = ref_claims.ensure(session, key, number, at)
        if owner != number:
            refused.append(f"{ref.label} not published: it belongs to ticket {owner}")
            continue
        # The claim is the authority: a row left by a ticket that unlinked the reference and
        # has not published that yet is this ticket's now (that one deletes only its own).
        stmt = insert(TicketExternalRefRow).values(
            system=key[0], ref_id=key[1], ticket=number, url=ref.url
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=[TicketExternalRefRow.system, TicketExternalRefRow.ref_id],
                set_={"ticket": number, "url": ref.url},
            )
        )
    return refused


def holds(system: str, ref_id: str) -> ColumnElement[bool]:
    """A condition on `tickets`: the ticket holds `system:ref_id` (published)."""
    return TicketRow.number.in_(
        select(TicketExternalRefRow.ticket).where(
            TicketExternalRefRow.system == system, TicketExternalRefRow.ref_id == ref_id
        )
    )


def _is(key: tuple[str, str], ticket: str) -> ColumnElement[bool]:
    return and_(
        TicketExternalRefRow.system == key[0],
        TicketExternalRefRow.ref_id == key[1],
        TicketExternalRefRow.ticket == ticket,
    )
