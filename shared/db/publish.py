"""Publishing a workflow task's changes: projection, thread, timeline, report facts and
notification outbox, in one transaction, so none is written without the others.
"""

from typing import Any

from sqlalchemy.orm import Session

from shared.db.events import append_events
from shared.db.external_refs import publish_refs
from shared.db.facts import record_facts
from shared.db.outbox import queue_notices
from shared.db.projection import upsert_ticket
from shared.db.tables import ThreadRow, TimelineRow
from shared.db.writes import insert_new
from shared.domain.enums import EventKind
from shared.domain.models import PublishBatch, TicketState


def publish(
    session: Session, batch: PublishBatch, channel: str, *, traceparent: str | None = None
) -> list[str]:
    """Write `batch` unless a version as new is stored (a retry after a commit): what was done.
    `traceparent`: the trace its notifications' and webhooks' deliveries belong to."""
    state = batch.state
    if not upsert_ticket(session, state):
        return [f"v{state.version} was already published"]
    record_facts(session, state, clocks=batch.clocks_changed)
    insert_new(session, ThreadRow, _thread_rows(state))
    insert_new(session, TimelineRow, _timeline_rows(state))
    append_events(session, state, traceparent=traceparent)
    # A refused signal reads like any other in the history: say here that it changed nothing.
    refused = [
        f"refused {e.detail.get('action', '?')} by {e.actor.name}: {e.detail.get('reason', '')}"
        for e in state.timeline
        if e.kind is EventKind.REJECTED
    ]
    unpublished_refs = publish_refs(session, state)
    notices = queue_notices(session, state, batch.notices, channel, traceparent=traceparent)
    return [f"published v{state.version}", *refused, *unpublished_refs, *notices]


def _thread_rows(state: TicketState) -> list[dict[str, Any]]:
    return [
        {
            "ticket": state.number,
            "entry": entry.id,
            "kind": entry.kind.value,
            "author": entry.author.model_dump(mode="json"),
            "message_id": entry.message_id,
            "size": entry.size,
            "created_at": entry.created_at,
            "unverified": entry.unverified,
        }
        for entry in state.thread
    ]


def _timeline_rows(state: TicketState) -> list[dict[str, Any]]:
    return [
        {
            "ticket": state.number,
            "seq": event.seq,
            "kind": event.kind.value,
            "at": event.at,
            "event": event.model_dump(mode="json"),
        }
        for event in state.timeline
    ]
