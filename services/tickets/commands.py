"""Commands on a ticket, with definitive answers.

A command either applied exactly once, was refused and never will apply (Rejected, Conflict,
NotFound), or did not apply and never will (NotApplied): a command carries the time its
caller stops waiting, and the workflow refuses it after that.
"""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.tickets.backends import Backends
from services.tickets.create import with_files
from services.tickets.errors import Conflict, NotApplied, NotFound, Rejected, Unavailable
from services.tickets.inputs import CommandArgs, NoArgs
from services.tickets.keys import command_fingerprint
from services.tickets.reads import stored_state_of
from services.workflows.starts import start_options
from services.workflows.ticket_workflow import WORKFLOW_TASK_TIMEOUT, TicketWorkflow
from shared.crypto.key_store import DataKeyErased
from shared.db import directory, thread
from shared.db.attachments import StoredFile
from shared.db.scrub import erased_ticket
from shared.db.tables import AgentRow, DepartmentRow, TeamRow
from shared.db.threads import in_thread
from shared.domain import lifecycle
from shared.domain.enums import Action, Role
from shared.domain.erasure import is_erased
from shared.domain.ids import ticket_workflow_id
from shared.domain.lifecycle import IllegalTransition, Refusal
from shared.domain.models import Actor, TicketCommand, TicketInput, TicketView
from shared.logs import log_context
from shared.settings import Settings
from shared.temporal import names

# Allowance for the clocks of this host and the Temporal server to differ.
CLOCK_SKEW = timedelta(seconds=2)
REFUSALS = {refusal.value: refusal for refusal in Refusal}
# The arguments that hold text: stored in the thread, sent as references.
TEXT_FIELDS = ("message", "resolution", "comment")


@dataclass(frozen=True)
class CommandRequest:
    """A command as the API receives it: who, what, and the client's Idempotency-Key."""

    number: str
    actor: Actor
    action: Action
    # The action's arguments, as the route took them (NoArgs for close and reopen).
    args: CommandArgs = field(default_factory=NoArgs)
    key: str | None = None
    # If-Match: the version the caller saw; the workflow refuses the command (412) if the
    # ticket is at another one.
    expected_version: int | None = None
    # Files of the message, already in the blob store.
    files: tuple[StoredFile, ...] = ()
    # A requester's message whose sender is not proven (mail with a From alone).
    unverified: bool = False


async def run_command(backends: Backends, request: CommandRequest) -> TicketView:
    """Check the handles it names, store its message, and have the workflow apply it."""
    cmd = await in_thread(_command, backends, request)
    handle = backends.client.get_workflow_handle_for(
        TicketWorkflow.run, ticket_workflow_id(request.number)
    )
    update_id = f"{cmd.command_id}:{cmd.fingerprint[:16]}"
    with log_context(command_id=cmd.command_id):
        try:
            view: TicketView = await handle.execute_update(
                names.update_for(cmd.action),
                cmd,
                id=update_id,
                result_type=TicketView,
                rpc_timeout=_command_wait(backends.settings),
            )
            return view
        except WorkflowUpdateFailedError as err:
            raise _refused(err) from err
        except WorkflowUpdateRPCTimeoutOrCancelledError:
            return await _await_outcome(handle, cmd, update_id)
        except DataKeyErased as err:
            # The ticket's payloads can no longer be encrypted: it was erased on request.
            raise Conflict(f"ticket {request.number} was erased on request") from err
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                return await _restart(backends, cmd, update_id, number=request.number)
            if err.status in (RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED):
                return await _await_outcome(handle, cmd, update_id)
            raise Unavailable("temporal") from err


def _command(backends: Backends, request: CommandRequest) -> TicketCommand:
    sessions, settings = backends.sessions, backends.settings
    fields = request.args.command_fields()
    if request.unverified:
        fields["unverified"] = True
    digest = command_fingerprint(request.action, fields, request.files)
    actor = request.actor
    # A client's Idempotency-Key makes a retried command the same update; else a fresh id.
    command_id = f"{actor.kind}:{actor.handle or ''}:{request.key or uuid.uuid4().hex}"
    now = datetime.now(UTC)
    with sessions.begin() as session:
        check_handles(
            session=session,
            agent=_text(fields, "agent"),
            team=_text(fields, "team"),
            department=_text(fields, "department"),
        )
        department = _text(fields, "department")
        if department is not None:
            # The new department's hours (None: the ticket falls back to its plan's).
            row = session.get(DepartmentRow, department)
            if row is not None and row.schedule:
                fields["schedule"] = directory.business_hours(session, row.schedule)
        # Texts go to the thread store; the command carries references to them. None is kept
        # for an erased ticket, which takes no command (below, and `_restart`).
        texts = any(_text(fields, name) is not None for name in TEXT_FIELDS)
        if texts and erased_ticket(session, request.number):
            raise Conflict(f"ticket {request.number} was erased on request")
        for name in TEXT_FIELDS:
            text = _text(fields, name)
            if text is not None:
                ref = thread.store_message(
                    session, request.number, f"{command_id}:{digest}:{name}", text, now
                )
                if name == "message":
                    ref = with_files(session, ref, request.files, ticket=request.number, now=now)
                fields[name] = ref
    return TicketCommand.model_validate(
        {
            **fields,
            "command_id": command_id,
            "action": request.action,
            "actor": actor,
            "fingerprint": digest,
            "expires_at": now + timedelta(seconds=settings.command_timeout_seconds),
            "expected_version": request.expected_version,
        }
    )


def _text(fields: dict[str, object], name: str) -> str | None:
    value = fields.get(name)
    return value if isinstance(value, str) else None


async def _await_outcome(
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


async def _restart(
    backends: Backends, cmd: TicketCommand, update_id: str, *, number: str
) -> TicketView:
    """No running workflow: an unknown ticket, or a closed one that a command reopens."""
    client, sessions, settings = backends.client, backends.sessions, backends.settings
    prior = await in_thread(stored_state_of, sessions, number)
    if prior is None:
        raise NotFound(f"ticket {number}")
    if is_erased(prior):
        # Its requester's data is gone, and so is the key of its history: it stays closed.
        raise Conflict(f"ticket {number} was erased on request")
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
        return await _await_outcome(handle, cmd, update_id)
    return restarted


def check_handles(
    *,
    session: Session,
    agent: str | None = None,
    team: str | None = None,
    department: str | None = None,
) -> None:
    """404 for a handle that names nothing; an assignee must be an active, non-viewer agent."""
    if agent is not None:
        row = session.get(AgentRow, agent)
        if row is None or not row.active:
            raise NotFound(f"agent {agent!r}")
        if row.role == Role.VIEWER:
            raise Conflict(f"agent {agent!r} is a viewer and cannot be assigned tickets")
    if team is not None and session.get(TeamRow, team) is None:
        raise NotFound(f"team {team!r}")
    if department is not None and session.get(DepartmentRow, department) is None:
        raise NotFound(f"department {department!r}")


def _refused(err: WorkflowUpdateFailedError) -> Exception:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return _refusal_error(REFUSALS.get(cause.type or ""), cause.message)
    return Conflict(str(cause or err))


def _refusal_error(refusal: Refusal | None, reason: str) -> Exception:
    if refusal is Refusal.EXPIRED:
        return NotApplied()
    if refusal is None or refusal is Refusal.CONFLICT:
        return Conflict(reason)
    return Rejected(refusal, reason)


def _command_wait(settings: Settings) -> timedelta:
    """How long to wait for an update: a little past the command's own deadline."""
    return timedelta(seconds=settings.command_timeout_seconds + 1)
