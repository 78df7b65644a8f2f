"""External references in the ticket workflow on the time-skipping server: links applied by
update and by signal, the TicketExternalRef search attribute seeded at start and upserted only
when the references change, and the published table and claims following them."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle

from services.workflows.ticket_workflow import TicketWorkflow
from shared.db.tables import ExternalRefClaimRow, TicketExternalRefRow
from shared.domain.enums import Action, EventKind
from shared.domain.models import ExternalRef, TicketCommand, TicketView
from shared.temporal import names
from shared.temporal import search_attributes as sa
from tests.builders import cmd, new_input
from tests.builders import ref as message
from tests.workflows.conftest import RecordingNotifier, send, start

JIRA = ExternalRef(system="jira", id="OPS-12", url="https://jira.example.com/browse/OPS-12")
CRM = ExternalRef(system="crm", id="C-7")


def link(ref: ExternalRef, action: Action = Action.LINK) -> TicketCommand:
    return cmd(action, external_ref=ref)


async def attribute(handle: WorkflowHandle[TicketWorkflow, TicketView]) -> list[str] | None:
    described = await handle.describe()
    value = described.typed_search_attributes.get(sa.EXTERNAL_REF)
    return None if value is None else list(value)


def upserts_of_refs(events: Sequence[HistoryEvent]) -> int:
    """How many search-attribute upserts among `events` set TicketExternalRef."""
    upserts = [
        event.upsert_workflow_search_attributes_event_attributes.search_attributes
        for event in events
        if event.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    return len([upsert for upsert in upserts if names.SA_EXTERNAL_REF in upsert.indexed_fields])


def published(notifier: RecordingNotifier, number: str) -> dict[str, Any]:
    assert notifier.sessions is not None
    with notifier.sessions() as session:
        rows = session.scalars(
            select(TicketExternalRefRow).where(TicketExternalRefRow.ticket == number)
        ).all()
        claims = session.scalars(
            select(ExternalRefClaimRow).where(ExternalRefClaimRow.ticket == number)
        ).all()
        return {
            "rows": sorted((r.system, r.ref_id, r.url) for r in rows),
            "claims": sorted((c.system, c.ref_id) for c in claims),
        }


async def test_links_are_applied_published_and_upserted_only_when_they_change(
    worker: tuple[Client, str], notifier: RecordingNotifier
) -> None:
    client, queue = worker
    data = new_input(external_refs=[JIRA])
    handle = await start(client, queue, data)
    # Seeded at the start: the workflow has nothing to upsert for it.
    view = await send(handle, link(CRM))
    assert view.external_refs == [JIRA, CRM]
    assert await attribute(handle) == ["jira:OPS-12", "crm:C-7"]
    await send(handle, cmd(Action.NOTE, message=message("n")))
    history = await handle.fetch_history()
    assert upserts_of_refs(history.events) == 1  # the link; not the start, not the note
    assert published(notifier, data.number) == {
        "rows": [("crm", "C-7", None), ("jira", "OPS-12", JIRA.url)],
        "claims": [("crm", "C-7"), ("jira", "OPS-12")],
    }

    view = await send(handle, link(JIRA, Action.UNLINK))
    assert view.external_refs == [CRM]
    assert await attribute(handle) == ["crm:C-7"]
    # Unlinked: no longer published, and free for another ticket.
    assert published(notifier, data.number) == {
        "rows": [("crm", "C-7", None)],
        "claims": [("crm", "C-7")],
    }
    await send(handle, link(CRM, Action.UNLINK))
    assert await attribute(handle) is None
    assert published(notifier, data.number) == {"rows": [], "claims": []}


async def test_references_given_at_start_without_attributes_are_upserted(
    worker: tuple[Client, str], notifier: RecordingNotifier
) -> None:
    client, queue = worker
    data = new_input(external_refs=[JIRA])
    handle = await start(client, queue, data)  # a start that set no search attributes
    await handle.query(TicketWorkflow.view)
    assert await attribute(handle) == ["jira:OPS-12"]
    assert published(notifier, data.number)["rows"] == [("jira", "OPS-12", JIRA.url)]


async def test_a_link_by_signal_is_applied_and_an_invalid_one_rejected(
    worker: tuple[Client, str], notifier: RecordingNotifier
) -> None:
    client, queue = worker
    data = new_input()
    handle = await start(client, queue, data)
    await handle.signal(TicketWorkflow.link_signal, link(CRM))
    await handle.signal(TicketWorkflow.link_signal, link(ExternalRef(system="CRM!", id="x")))
    view = await send(handle, cmd(Action.NOTE, message=message("n")))
    assert view.external_refs == [CRM]
    events = notifier.timeline(data.number)
    assert [e.detail for e in events if e.kind is EventKind.LINKED] == [
        {"system": "crm", "id": "C-7"}
    ]
    [rejected] = [e for e in events if e.kind is EventKind.REJECTED]
    assert rejected.detail["action"] == "link" and "system must be" in rejected.detail["reason"]
    # A signal skips the intake's claim: publishing claims it.
    assert published(notifier, data.number)["claims"] == [("crm", "C-7")]
