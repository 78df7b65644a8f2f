"""Ticket operations behind the HTTP API: start workflows, send commands, read tickets.

Answers are definitive. A create answers once the workflow has started (its number and token
are valid for good). A command either applied exactly once (200), was refused and never will
apply (4xx), or did not apply and never will (503): a command carries the time its caller
stops waiting, and the workflow refuses it after that.
"""

import asyncio
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.intake.errors import Conflict, NotApplied, NotFound, Refused, Unavailable
from services.intake.schemas import TicketCreate
from services.workflows.starts import start_options
from services.workflows.ticket_workflow import WORKFLOW_TASK_TIMEOUT, TicketWorkflow
from shared.db import directory, keys, ref_claims, thread
from shared.db.attachments import StoredFile, record_attachment
from shared.db.projection import stored_state
from shared.db.tables import Agent, Department, SlaPlan, Team
from shared.db.threads import in_thread
from shared.domain import lifecycle
from shared.domain.enums import Action, OnDuplicateRef, Priority, Role
from shared.domain.ids import ticket_workflow_id
from shared.domain.lifecycle import IllegalTransition, Refusal
from shared.domain.models import (
    Actor,
    ExternalRef,
    MessageRef,
    Person,
    TicketCommand,
    TicketInput,
    TicketState,
    TicketView,
)
from shared.settings import Settings
from shared.temporal import names

# Allowance for the clocks of this host and the Temporal server to differ.
CLOCK_SKEW = timedelta(seconds=2)

REFUSALS = {refusal.value: refusal for refusal in Refusal}
# What each refusal of the workflow answers over HTTP.
REFUSAL_STATUS = {
    Refusal.TICKET_FULL: 413,
    Refusal.RATE_LIMITED: 429,
    Refusal.KEY_REUSED: 422,
    Refusal.VERSION_MISMATCH: 412,
    Refusal.INVALID: 422,
    Refusal.NOT_LINKED: 404,
}


def creation_key(email: str, idempotency_key: str | None) -> str:
    """Scope the client's key by requester, so two integrations' key "1" never meet."""
    raw = idempotency_key or uuid.uuid4().hex
    return hashlib.sha256(f"{email.lower()}\n{raw}".encode()).hexdigest()


def fingerprint(payload: object) -> str:
    """A hash of what a request asks for: the same key with another request is refused."""
    canonical = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Created:
    """A create's answer: the ticket, and whether it is the one the request asked to open
    (201: new, or the same key's retry) or the one found holding one of its external
    references (200)."""

    view: TicketView
    new: bool = True


def files_asked(files: Sequence[StoredFile]) -> dict[str, object]:
    """What a request's files add to its fingerprint: nothing when there are none, so a
    request without files keeps the fingerprint it always had."""
    if not files:
        return {}
    return {"attachments": [[f.name, f.content_type, f.blob.sha256] for f in files]}


def with_files(
    session: Session, ref: MessageRef, files: Sequence[StoredFile], ticket: str, now: datetime
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
) -> TicketInput:
    topic = directory.help_topic(session, body.help_topic)
    if topic is None:
        raise NotFound(f"help topic {body.help_topic!r}")
    plan = session.get(SlaPlan, topic.sla_plan)
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
    *,
    client: Client,
    sessions: sessionmaker[Session],
    settings: Settings,
    body: TicketCreate,
    idempotency_key: str | None,
    stale: dict[ref_claims.Key, ref_claims.Claim] | None = None,
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
    key = creation_key(body.requester.email, idempotency_key)
    now = datetime.now(UTC)

    def record() -> tuple[keys.Claim, TicketInput]:
        with sessions.begin() as session:
            claim = keys.claim(session, key, _create_fingerprint(body, files), now)
            if claim is None:
                raise Refused(
                    422,
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
            message = with_files(session, message, files, number, now)
            data = ticket_input(
                session=session, body=body, number=number, key=key, message=message, refs=refs
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
            rpc_timeout=_rpc_timeout(settings),
        )
    except WorkflowAlreadyStartedError:  # the key's ticket, closed since
        return Created(await read_view(client, sessions, settings, number))
    except RPCError as err:
        # The start may have landed though its answer did not: then the ticket exists.
        if not await _started(handle, settings):
            raise Unavailable("temporal") from err
    if not claim.new:
        return Created(await read_view(client, sessions, settings, number))
    return Created(TicketView.of(state))


def _create_fingerprint(body: TicketCreate, files: Sequence[StoredFile]) -> str:
    asked = {**body.model_dump(mode="json"), **files_asked(files)}
    if not body.external_refs:
        # Creates without references keep the fingerprints they had before references.
        del asked["external_refs"], asked["on_duplicate_external_ref"]
    return fingerprint(asked)


@dataclass(frozen=True)
class CommandRequest:
    """A command as the API receives it: who, what, and the client's Idempotency-Key."""

    number: str
    actor: Actor
    action: Action
    key: str | None = None
    agent: str | None = None
    team: str | None = None
    priority: Priority | None = None
    department: str | None = None
    message: str | None = None
    resolution: str | None = None
    remind_at: datetime | None = None
    # If-Match: the version the caller saw; the workflow refuses the command (412) if the
    # ticket is at another one.
    expected_version: int | None = None
    external_ref: ExternalRef | None = None
    # Files of `message`, already in the blob store.
    files: tuple[StoredFile, ...] = ()
    # A requester's message whose sender is not proven (mail with a From alone).
    unverified: bool = False


async def run_command(
    *,
    client: Client,
    sessions: sessionmaker[Session],
    settings: Settings,
    request: CommandRequest,
) -> TicketView:
    """Check the handles it names, store its message, and have the workflow apply it."""
    cmd = await in_thread(_command, sessions, settings, request)
    handle = client.get_workflow_handle_for(TicketWorkflow.run, ticket_workflow_id(request.number))
    update_id = f"{cmd.command_id}:{cmd.fingerprint[:16]}"
    try:
        view: TicketView = await handle.execute_update(
            names.update_for(cmd.action),
            cmd,
            id=update_id,
            result_type=TicketView,
            rpc_timeout=_command_wait(settings),
        )
        return view
    except WorkflowUpdateFailedError as err:
        raise _refused(err) from err
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        return await _settle(handle, cmd, update_id)
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return await _restart(client, sessions, settings, request.number, cmd, update_id)
        if err.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
            return await _settle(handle, cmd, update_id)
        raise Unavailable("temporal") from err


def _command(
    sessions: sessionmaker[Session], settings: Settings, request: CommandRequest
) -> TicketCommand:
    asked: dict[str, object] = {
        "action": request.action.value,
        "agent": request.agent,
        "team": request.team,
        "priority": request.priority,
        "department": request.department,
        "message": request.message,
        "resolution": request.resolution,
        "remind_at": request.remind_at,
        **files_asked(request.files),
    }
    if request.external_ref is not None:
        # Only where there is one: other commands keep the fingerprints they had before.
        asked["external_ref"] = request.external_ref.model_dump()
    if request.unverified:
        asked["unverified"] = True  # likewise
    digest = fingerprint(asked)
    actor = request.actor
    # A client's Idempotency-Key makes a retried command the same update; else a fresh id.
    command_id = f"{actor.kind}:{actor.handle or ''}:{request.key or uuid.uuid4().hex}"
    now = datetime.now(UTC)
    with sessions.begin() as session:
        check_handles(
            session=session, agent=request.agent, team=request.team, department=request.department
        )
        schedule = None
        if request.department is not None:
            # The new department's hours (None: the ticket falls back to its plan's).
            row = session.get(Department, request.department)
            if row is not None and row.schedule:
                schedule = directory.business_hours(session, row.schedule)
        refs = {
            name: thread.store_message(
                session, request.number, f"{command_id}:{digest}:{name}", text, now
            )
            for name, text in (("message", request.message), ("resolution", request.resolution))
            if text is not None
        }
        if "message" in refs:
            refs["message"] = with_files(
                session, refs["message"], request.files, request.number, now
            )
    return TicketCommand(
        command_id=command_id,
        action=request.action,
        actor=actor,
        agent=request.agent,
        team=request.team,
        priority=request.priority,
        department=request.department,
        message=refs.get("message"),
        resolution=refs.get("resolution"),
        remind_at=request.remind_at,
        external_ref=request.external_ref,
        schedule=schedule,
        fingerprint=digest,
        expires_at=now + timedelta(seconds=settings.command_timeout_seconds),
        expected_version=request.expected_version,
        unverified=request.unverified,
    )


async def _settle(
    handle: WorkflowHandle[TicketWorkflow, TicketView], cmd: TicketCommand, update_id: str
) -> TicketView:
    """The caller's wait ran out: learn for certain whether the command applied.

    The workflow refuses the command once its deadline passed (judged at the start of the
    workflow task that sees it), so after the deadline, one task timeout and the clock skew,
    an update that was not accepted never will be.
    """
    assert cmd.expires_at is not None
    sealed = cmd.expires_at + WORKFLOW_TASK_TIMEOUT + CLOCK_SKEW
    while True:
        left = sealed - datetime.now(UTC)
        try:
            outcome: TicketView = await handle.get_update_handle(
                update_id, result_type=TicketView
            ).result(rpc_timeout=max(left, timedelta(seconds=1)))
            return outcome
        except WorkflowUpdateFailedError as err:
            raise _refused(err) from err
        except (RPCError, WorkflowUpdateRPCTimeoutOrCancelledError) as err:
            gone = isinstance(err, RPCError) and err.status is RPCStatusCode.NOT_FOUND
            if gone or left <= timedelta(0):
                raise NotApplied() from err
        await asyncio.sleep(0.5)


async def _started(handle: WorkflowHandle[TicketWorkflow, TicketView], settings: Settings) -> bool:
    try:
        await handle.describe(rpc_timeout=_rpc_timeout(settings))
    except RPCError:
        return False
    return True


async def _restart(
    client: Client,
    sessions: sessionmaker[Session],
    settings: Settings,
    number: str,
    cmd: TicketCommand,
    update_id: str,
) -> TicketView:
    """No running workflow: an unknown ticket, or a closed one that a command reopens."""
    prior = await in_thread(_stored_state, sessions, number)
    if prior is None:
        raise NotFound(f"ticket {number}")
    try:
        lifecycle.check(prior, cmd)
    except IllegalTransition as err:
        raise _refusal_error(err.refusal, err.reason) from err
    data = TicketInput.resuming(prior)
    # The same ticket continues in a new run of its workflow id.
    start = WithStartWorkflowOperation(
        TicketWorkflow.run, data, **start_options(settings, prior, new=False)
    )
    try:
        restarted: TicketView = await client.execute_update_with_start_workflow(
            names.update_for(cmd.action),
            cmd,
            result_type=TicketView,
            id=update_id,
            start_workflow_operation=start,
            rpc_timeout=_command_wait(settings),
        )
    except WorkflowUpdateFailedError as err:
        raise _refused(err) from err
    except WorkflowUpdateRPCTimeoutOrCancelledError:
        handle = client.get_workflow_handle_for(TicketWorkflow.run, ticket_workflow_id(number))
        return await _settle(handle, cmd, update_id)
    return restarted


async def read_view(
    client: Client, sessions: sessionmaker[Session], settings: Settings, number: str
) -> TicketView:
    """The ticket as it is now: from its workflow, else (closed, or Temporal down) the
    projection."""
    handle = client.get_workflow_handle_for(TicketWorkflow.run, ticket_workflow_id(number))
    try:
        return await handle.query(TicketWorkflow.view, rpc_timeout=_rpc_timeout(settings))
    except RPCError as err:
        stored = await in_thread(_stored_state, sessions, number)
        if stored is not None:
            return TicketView.of(stored)
        if err.status is RPCStatusCode.NOT_FOUND:
            raise NotFound(f"ticket {number}") from err
        raise Unavailable("temporal") from err


def _stored_state(sessions: sessionmaker[Session], number: str) -> TicketState | None:
    with sessions() as session:
        return stored_state(session, number)


def check_handles(
    *,
    session: Session,
    agent: str | None = None,
    team: str | None = None,
    department: str | None = None,
) -> None:
    """404 for a handle that names nothing; an assignee must be an active, non-viewer agent."""
    if agent is not None:
        row = session.get(Agent, agent)
        if row is None or not row.active:
            raise NotFound(f"agent {agent!r}")
        if row.role == Role.VIEWER:
            raise Conflict(f"agent {agent!r} is a viewer and cannot be assigned tickets")
    if team is not None and session.get(Team, team) is None:
        raise NotFound(f"team {team!r}")
    if department is not None and session.get(Department, department) is None:
        raise NotFound(f"department {department!r}")


def _refused(err: WorkflowUpdateFailedError) -> Exception:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return _refusal_error(REFUSALS.get(cause.type or ""), cause.message)
    return Conflict(str(cause or err))


def _refusal_error(refusal: Refusal | None, reason: str) -> Exception:
    if refusal is Refusal.EXPIRED:
        return NotApplied()
    if refusal in REFUSAL_STATUS:
        return Refused(REFUSAL_STATUS[refusal], reason)
    return Conflict(reason)


def _command_wait(settings: Settings) -> timedelta:
    """How long to wait for an update: a little past the command's own deadline."""
    return timedelta(seconds=settings.command_timeout_seconds + 1)


def _rpc_timeout(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.temporal_rpc_timeout_seconds)
