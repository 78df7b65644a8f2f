"""Opening a ticket: its key and number recorded, its first message stored, its workflow
started. The answer comes once the workflow has started: its number and token are valid."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session
from temporalio.client import WorkflowHandle
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from services.tickets.backends import Backends
from services.tickets.errors import NotFound, Rejected, Unavailable
from services.tickets.inputs import TicketCreate
from services.tickets.keys import creation_key, files_asked, fingerprint
from services.tickets.reads import read_view, rpc_timeout
from services.workflows.starts import start_options
from services.workflows.ticket_workflow import TicketWorkflow
from shared.db import directory, keys, ref_claims, thread
from shared.db.attachments import StoredFile, record_attachment
from shared.db.tables import SlaPlanRow
from shared.db.threads import in_thread
from shared.domain import lifecycle
from shared.domain.enums import OnDuplicateRef, Priority
from shared.domain.ids import ticket_workflow_id
from shared.domain.lifecycle import Refusal
from shared.domain.models import ExternalRef, MessageRef, Person, TicketInput, TicketView
from shared.settings import Settings


@dataclass(frozen=True)
class Created:
    """A create's answer: the ticket, and whether it is the one the request asked to open
    (201: new, or the same key's retry) or the one found holding one of its external
    references (200)."""

    view: TicketView
    new: bool = True


def with_files(
    session: Session, ref: MessageRef, files: Sequence[StoredFile], *, ticket: str, now: datetime
) -> MessageRef:
    """`ref` carrying the references of `files`, whose metadata rows are written here."""
    if not files:
        return ref
    attached = [
        record_attachment(session, ticket=ticket, message_id=ref.id, position=i, file=file, now=now)
        for i, file in enumerate(files)
    ]
    return ref.model_copy(update={"attachments": attached})


def ticket_input(
    *,
    session: Session,
    body: TicketCreate,
    number: str,
    key: str,
    message: MessageRef,
    refs: list[ExternalRef],
    new: bool = True,
) -> TicketInput:
    topic = directory.help_topic(session, body.help_topic)
    # An inactive topic takes no new tickets, answered as an unknown one; a retry of a create
    # it took while active (`new` False: the key was claimed then) still gets its ticket.
    if topic is None or (new and not topic.active):
        raise NotFound(f"help topic {body.help_topic!r}")
    plan = session.get(SlaPlanRow, topic.sla_plan)
    if plan is None:
        raise NotFound(f"SLA plan {topic.sla_plan!r}")
    plan_schedule = directory.business_hours(session, plan.schedule) if plan.schedule else None
    snapshot = directory.sla_snapshot(
        plan, directory.effective_schedule(session, department=topic.department, plan=plan)
    )
    return TicketInput(
        number=number,
        subject=body.subject,
        message=message,
        requester=Person(name=body.requester.name, email=body.requester.email),
        help_topic=topic.handle,
        department=topic.department,
        team=topic.team,
        assignee=topic.agent,
        priority=body.priority or Priority(topic.priority),
        source=body.source,
        external_refs=refs,
        # Kept so that a transfer to a department without hours falls back to the plan's.
        sla_plan=snapshot.model_copy(update={"plan_schedule": plan_schedule}),
        idempotency_key=key,
    )


async def create_ticket(
    backends: Backends,
    body: TicketCreate,
    *,
    idempotency_key: str | None,
    stale: dict[ref_claims.Key, ref_claims.RefClaim] | None = None,
    files: Sequence[StoredFile] = (),
) -> Created:
    """Start the ticket's workflow, or answer the ticket this key made before.

    The key and its ticket number are recorded first, with claims on its external references
    (taking over the `stale` ones), so a retry (after any failure) starts or finds the same
    ticket; the same key with a different request is refused. A reference claimed by another
    ticket raises `ref_claims.Taken` (nothing is recorded), or with `on_duplicate_external_ref:
    create` is left off. `files` are in the blob store already: their metadata goes in with
    the first message.
    """
    client, sessions, settings = backends.client, backends.sessions, backends.settings
    key = creation_key(body.requester.email, idempotency_key)
    now = datetime.now(UTC)

    def record() -> tuple[keys.KeyClaim, TicketInput]:
        with sessions.begin() as session:
            claim = keys.claim_key(session, key, _create_fingerprint(body, files), now)
            if claim is None:
                raise Rejected(
                    Refusal.KEY_REUSED,
                    f"Idempotency-Key {idempotency_key!r} was already used for a different ticket",
                )
            number = claim.number
            leave_taken = body.on_duplicate_external_ref is OnDuplicateRef.CREATE
            refs = ref_claims.claim_all(
                session, body.refs(), number, now, stale=stale or {}, leave_taken=leave_taken
            )
            message = thread.store_message(
                session, number, f"{number}:{key}:first", body.message, now
            )
            message = with_files(session, message, files, ticket=number, now=now)
            data = ticket_input(
                session=session,
                body=body,
                number=number,
                key=key,
                message=message,
                refs=refs,
                new=claim.new,
            )
        return claim, data

    claim, data = await in_thread(record)
    number = claim.number
    # The workflow opens the ticket at this same instant, so this answer is exactly its state.
    data = data.model_copy(update={"opened_at": now})
    state, _ = lifecycle.open_ticket(data, now)
    handle = client.get_workflow_handle_for(TicketWorkflow.run, ticket_workflow_id(number))
    try:
        await client.start_workflow(
            TicketWorkflow.run,
            data,
            **start_options(settings, state, new=True),
            rpc_timeout=rpc_timeout(settings),
        )
    except WorkflowAlreadyStartedError:  # the key's ticket, closed since
        return Created(await read_view(backends, number))
    except RPCError as err:
        # The start may have landed though its answer did not: then the ticket exists.
        if not await _started(handle, settings):
            raise Unavailable("temporal") from err
    if not claim.new:
        return Created(await read_view(backends, number))
    return Created(TicketView.of(state))


def _create_fingerprint(body: TicketCreate, files: Sequence[StoredFile]) -> str:
    asked = {**body.model_dump(mode="json"), **files_asked(files)}
    if not body.external_refs:
        # Creates without references keep the fingerprints they had before references.
        del asked["external_refs"], asked["on_duplicate_external_ref"]
    return fingerprint(asked)


async def _started(handle: WorkflowHandle[TicketWorkflow, TicketView], settings: Settings) -> bool:
    try:
        await handle.describe(rpc_timeout=rpc_timeout(settings))
    except RPCError:
        return False
    return True
