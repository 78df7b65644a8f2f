"""External references on the way in: a create that names a reference some ticket holds
finds that ticket, and a link claims its reference before the command, so that no two tickets
ever hold the same one (see shared.db.ref_claims).

A claim is renewed by every request that will attach its reference, and such a request is over
for certain `claim_seal` after it began (a command applied by its deadline or never will, a
start landed within its RPC timeouts or never will). A claim that old whose ticket does not
hold the reference was never taken up: another ticket may take it over.
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from services.tickets.backends import Backends
from services.tickets.commands import CLOCK_SKEW
from services.tickets.create import Created, create_ticket
from services.tickets.errors import Conflict, NotFound, Unavailable
from services.tickets.inputs import TicketCreate
from services.tickets.keys import creation_key
from services.tickets.reads import read_view
from services.workflows.ticket_workflow import WORKFLOW_TASK_TIMEOUT
from shared.db import keys, ref_claims
from shared.db.attachments import StoredFile
from shared.db.ref_claims import Key, RefClaim
from shared.db.threads import in_thread
from shared.domain.enums import OnDuplicateRef
from shared.domain.external_refs import find
from shared.domain.models import ExternalRef, TicketView
from shared.settings import Settings

POLL = 0.2
# A create that loses a race for a reference looks for the winner's ticket again; more than
# a few rounds means the claims keep changing hands.
ATTEMPTS = 3


def claim_seal(settings: Settings) -> timedelta:
    """How long after its claim the request that made it is over for certain: a create's
    start and its check (two RPC timeouts), or a command's wait and settling."""
    rpc = timedelta(seconds=2 * settings.temporal_rpc_timeout_seconds)
    command = timedelta(seconds=settings.command_timeout_seconds)
    return rpc + command + WORKFLOW_TASK_TIMEOUT + CLOCK_SKEW


@dataclass(frozen=True)
class Lookup:
    """What the claims on a create's references say: the ticket holding one of them, or the
    stale claims that the create may take over."""

    existing: TicketView | None = None
    ref: ExternalRef | None = None  # the reference it holds
    stale: dict[Key, RefClaim] = field(default_factory=dict)


async def create_with_refs(
    backends: Backends,
    body: TicketCreate,
    *,
    idempotency_key: str | None,
    files: Sequence[StoredFile] = (),
) -> Created:
    """Create a ticket with external references: unless told to create anyway, a reference
    that a ticket holds answers that ticket (200), or 409 with `on_duplicate_external_ref:
    reject`. Two creates racing with one reference make one ticket: the claims decide, and
    the loser answers the winner's ticket."""
    policy = body.on_duplicate_external_ref
    for _ in range(ATTEMPTS):
        lookup = Lookup()
        if policy is not OnDuplicateRef.CREATE:
            own = None
            if idempotency_key is not None:
                key = creation_key(body.requester.email, idempotency_key)
                own = await in_thread(_number_of_key, backends.sessions, key)
            lookup = await find_holder(backends, body.refs(), own=own)
            if lookup.existing is not None and lookup.ref is not None:
                if policy is OnDuplicateRef.REJECT:
                    number = lookup.existing.number
                    raise Conflict(f"{lookup.ref.label} is linked to ticket {number}")
                return Created(lookup.existing, new=False)
        try:
            return await create_ticket(
                backends, body, idempotency_key=idempotency_key, stale=lookup.stale, files=files
            )
        except ref_claims.Taken:
            continue  # a concurrent request claimed one first: find the ticket it attached it to
    raise Unavailable("the ticket these external references are being attached to")


async def find_holder(backends: Backends, refs: list[ExternalRef], *, own: str | None) -> Lookup:
    """The ticket holding one of `refs` (the first in their order), if any.

    A reference claimed by a ticket that does not hold it yet (a create or link under way)
    is waited for, up to TEMPORAL_RPC_TIMEOUT_SECONDS; then 503 (retry). Claims of `own`
    (the ticket this create's key made before) are this create's own.
    """
    settings = backends.settings
    deadline = time.monotonic() + settings.temporal_rpc_timeout_seconds
    while True:
        claims = await in_thread(_claims_of, backends.sessions, [ref.key for ref in refs])
        stale: dict[Key, RefClaim] = {}
        waiting = False
        for ref in refs:
            claim = claims.get(ref.key)
            if claim is None or claim.ticket == own:
                continue
            view, known = await _holder_view(backends, claim.ticket)
            if view is not None and find(view.external_refs, ref.key) is not None:
                return Lookup(existing=view, ref=ref)
            if known and claim.older_than(datetime.now(UTC) - claim_seal(settings)):
                stale[ref.key] = claim
            else:
                waiting = True
        if not waiting:
            return Lookup(stale=stale)
        if time.monotonic() > deadline:
            raise Unavailable("the ticket these external references are being attached to")
        await asyncio.sleep(POLL)


async def claim_for_link(backends: Backends, number: str, ref: ExternalRef) -> None:
    """RefClaim `ref` for ticket `number` before the link command: 409 if another ticket holds
    it, or is having it linked just now; 404 if no such ticket."""
    sessions, settings = backends.sessions, backends.settings

    def current_claim() -> RefClaim | None:
        with sessions() as session:
            if not keys.issued(session, number):
                raise NotFound(f"ticket {number}")
            return ref_claims.claims_of(session, [ref.key]).get(ref.key)

    current = await in_thread(current_claim)
    replacing = None
    if current is not None and current.ticket != number:
        view, known = await _holder_view(backends, current.ticket)
        if view is not None and find(view.external_refs, ref.key) is not None:
            raise Conflict(f"{ref.label} is linked to ticket {current.ticket}")
        if not known or not current.older_than(datetime.now(UTC) - claim_seal(settings)):
            raise Conflict(f"{ref.label} is being attached to ticket {current.ticket}")
        replacing = current

    def claim() -> str:
        with sessions.begin() as session:
            return ref_claims.claim(
                session, ref.key, number, datetime.now(UTC), replacing=replacing
            )

    owner = await in_thread(claim)
    if owner != number:
        raise Conflict(f"{ref.label} is linked to ticket {owner}")


def _number_of_key(sessions: sessionmaker[Session], key: str) -> str | None:
    with sessions() as session:
        return keys.number_of_key(session, key)


def _claims_of(sessions: sessionmaker[Session], wanted: list[Key]) -> dict[Key, RefClaim]:
    with sessions() as session:
        return ref_claims.claims_of(session, wanted)


async def _holder_view(backends: Backends, number: str) -> tuple[TicketView | None, bool]:
    """The ticket as it is now, and whether that is known: (None, True) if it does not
    exist (its create never started), (None, False) if it cannot be read just now."""
    try:
        return await read_view(backends, number), True
    except NotFound:
        return None, True
    except Unavailable:
        return None, False
