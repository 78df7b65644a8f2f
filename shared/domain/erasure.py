"""Erasing a requester's personal data (GDPR Art. 17), the pure part: what an erased ticket
and its stored events look like, how an address is named without being written down, and the
inputs of the erasure and retention workflows. No I/O."""

import hashlib
import hmac
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from shared.domain.enums import ActorKind
from shared.domain.models import Actor, Person, TicketState

# What stands in for a requester's name, address and a ticket's subject once erased.
ERASED = "(erased)"
ERASED_PERSON = Person(name=ERASED, email=ERASED)
# Who closes an erased person's open tickets (their timeline says so).
ERASER = Actor(kind=ActorKind.SYSTEM, name="erased on request")


class ErasureStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"


def normalized(email: str) -> str:
    """An address as erasures match it: case aside, as the ticket list's requester filter."""
    return email.strip().lower()


def requester_ref(secret_key: str, email: str) -> str:
    """A keyed hash naming the person with this address in the audit log and an erasure's
    record: the same address gives the same name, and nobody without SECRET_KEY can tell
    which address it was (an unkeyed hash of an address is easily reversed)."""
    message = f"requester:{normalized(email)}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def erased_state(state: TicketState) -> TicketState:
    """The ticket without its requester: no name, address, subject, creation key or message
    times. Its numbers, clocks, dimensions and dates stay (reports and queues count them)."""
    return state.model_copy(
        update={
            "subject": ERASED,
            "requester": ERASED_PERSON,
            "idempotency_key": "",
            "links_sent_at": [],
            "requester_messages_at": [],
            "thread": [],
            "timeline": [],
            "seen": {},
        },
        deep=True,
    )


def is_erased(state: TicketState) -> bool:
    return state.requester == ERASED_PERSON


def erased_actor(actor: dict[str, Any]) -> dict[str, Any]:
    """A stored actor (JSON) without the requester's name; any other actor as it is."""
    if actor.get("kind") != ActorKind.REQUESTER.value:
        return actor
    return {**actor, "name": ERASED}


def erased_timeline_event(event: dict[str, Any]) -> dict[str, Any]:
    """A stored timeline event (JSON of TimelineEvent) without the requester's name."""
    return {**event, "actor": erased_actor(event.get("actor", {}))}


def erased_feed_event(payload: dict[str, Any]) -> dict[str, Any]:
    """A change-feed event (JSON of TicketEvent) without the requester and the subject; its
    texts are joined at read time from the bodies, which the erasure deletes."""
    snapshot = {
        **payload.get("snapshot", {}),
        "subject": ERASED,
        "requester_name": ERASED,
        "requester_email": ERASED,
    }
    return {**payload, "actor": erased_actor(payload.get("actor", {})), "snapshot": snapshot}


class ErasureInput(BaseModel):
    """Start input of `ErasureWorkflow`: the erasure's id only. The address waits in the
    erasure's record (shared.db.erasures) and never enters the workflow's history."""

    erasure_id: str
    # Carried across continue-as-new: the tickets still to erase (None: not looked up yet),
    # and how many were erased before.
    remaining: list[str] | None = None
    erased: int = 0


class ErasureResult(BaseModel):
    tickets: int


class RetentionInput(BaseModel):
    """Start input of `RetentionWorkflow` (RETENTION_DAYS, from its schedule)."""

    days: int
    # Carried across continue-as-new: the cut-off the first run took, the last ticket number
    # looked at, and the counts so far.
    cutoff: datetime | None = None
    after: str = ""
    erased: int = 0
    skipped: int = 0


class ExpiredPage(BaseModel):
    """Closed tickets last changed before `cutoff`, not yet erased, numbered after `after`."""

    cutoff: datetime
    after: str
    limit: int


class RetentionResult(BaseModel):
    erased: int
    # Tickets whose workflow ran again (a command on a closed ticket): the next run takes them.
    skipped: int
    mail: int
