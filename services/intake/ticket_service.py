"""Ticket operations behind the HTTP API: start workflows, send commands, read state."""

import hashlib
import uuid
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from services.intake.errors import Conflict, NotFound, Unavailable
from services.intake.schemas import TicketCreate
from services.workflows.ticket_workflow import TicketWorkflow
from shared import lifecycle
from shared import search_attributes as sa
from shared.db import directory
from shared.db.projection import stored_state
from shared.db.tables import Agent, Department, SlaPlan, Team
from shared.enums import Priority, Role, TicketStatus
from shared.ids import ticket_workflow_id
from shared.lifecycle import IllegalTransition
from shared.models import Person, TicketCommand, TicketInput, TicketState
from shared.settings import Settings

NUMBER_ATTEMPTS = 20


def ticket_number_for(key: str, attempt: int) -> str:
    """A 6-digit number derived from the creation key; collisions move to the next attempt."""
    digest = hashlib.sha256(f"{key}#{attempt}".encode()).digest()
    return str(100_000 + int.from_bytes(digest[:8], "big") % 900_000)


def creation_key(email: str, idempotency_key: str | None) -> str:
    """Scope the client's key by requester, so two integrations' key "1" never meet."""
    raw = idempotency_key or uuid.uuid4().hex
    return hashlib.sha256(f"{email.lower()}\n{raw}".encode()).hexdigest()


def ticket_input(*, session: Session, body: TicketCreate, number: str, key: str) -> TicketInput:
    topic = directory.help_topic(session, body.help_topic)
    if topic is None:
        raise NotFound(f"help topic {body.help_topic!r}")
    plan = session.get(SlaPlan, topic.sla_plan)
    if plan is None:
        raise NotFound(f"SLA plan {topic.sla_plan!r}")
    return TicketInput(
        number=number,
        subject=body.subject,
        message=body.message,
        requester=Person(name=body.requester.name, email=body.requester.email),
        help_topic=topic.handle,
        department=topic.department,
        team=topic.team,
        assignee=topic.agent,
        priority=body.priority or Priority(topic.priority),
        source=body.source,
        sla_plan=directory.sla_snapshot(
            plan, directory.effective_schedule(session, department=topic.department, plan=plan)
        ).model_copy(
            # Kept so that a transfer to a department without hours falls back to the plan's.
            update={
                "plan_schedule": directory.business_hours(session, plan.schedule)
                if plan.schedule
                else None
            }
        ),
        idempotency_key=key,
    )


async def create_ticket(
    *,
    client: Client,
    sessions: sessionmaker[Session],
    settings: Settings,
    body: TicketCreate,
    idempotency_key: str | None,
) -> TicketState:
    """Start the ticket's workflow, or find the one this key started before."""
    key = creation_key(body.requester.email, idempotency_key)
    with sessions() as session:
        template = ticket_input(session=session, body=body, number="", key=key)
    for attempt in range(NUMBER_ATTEMPTS):
        data = template.model_copy(update={"number": ticket_number_for(key, attempt)})
        state = await _start_or_attach(client, settings, data)
        if state is None or state.idempotency_key != key:
            continue  # the number belongs to another ticket
        if state.subject != body.subject or state.requester.email != body.requester.email:
            raise Conflict("Idempotency-Key was already used for a different ticket")
        return state
    raise Unavailable("ticket numbering")


def _start_operation(
    settings: Settings, data: TicketInput, reuse: WorkflowIDReusePolicy
) -> WithStartWorkflowOperation[TicketWorkflow, TicketState]:
    return WithStartWorkflowOperation(
        TicketWorkflow.run,
        data,
        id=ticket_workflow_id(data.number),
        task_queue=settings.temporal_task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=reuse,
        search_attributes=sa.pairs(sa.start_values(data)),
        memo={"idempotency_key": data.idempotency_key},
        static_summary=f"#{data.number} {data.subject}",
        static_details=f"Requester: {data.requester.name}\n\nHelp topic: {data.help_topic}",
    )


async def _start_or_attach(
    client: Client, settings: Settings, data: TicketInput
) -> TicketState | None:
    # A closed ticket keeps its number: a new ticket never reuses it.
    start = _start_operation(settings, data, WorkflowIDReusePolicy.REJECT_DUPLICATE)
    try:
        return await client.execute_update_with_start_workflow(
            TicketWorkflow.open_ticket,
            start_workflow_operation=start,
            rpc_timeout=_rpc_timeout(settings),
        )
    except WorkflowAlreadyStartedError:
        return None  # a closed ticket has this number: the caller decides whose it is


async def run_command(
    *,
    client: Client,
    sessions: sessionmaker[Session],
    settings: Settings,
    number: str,
    cmd: TicketCommand,
) -> TicketState:
    """Send `cmd` through the workflow's validated update; reopen a closed ticket in a new run."""
    handle: WorkflowHandle[TicketWorkflow, TicketState] = client.get_workflow_handle_for(
        TicketWorkflow.run, ticket_workflow_id(number)
    )
    try:
        return await handle.execute_update(
            TicketWorkflow.execute, cmd, id=cmd.command_id, rpc_timeout=_rpc_timeout(settings)
        )
    except WorkflowUpdateFailedError as err:
        raise Conflict(_reason(err)) from err
    except RPCError as err:
        if err.status is not RPCStatusCode.NOT_FOUND:
            raise
    # No running workflow: an unknown ticket, or a closed one whose workflow completed.
    with sessions() as session:
        prior = stored_state(session, number)
    if prior is None:
        raise NotFound(f"ticket {number}")
    try:
        lifecycle.check(prior, cmd)
    except IllegalTransition as err:
        raise Conflict(err.reason) from err
    return await _restart(client, settings, prior, cmd)


async def _restart(
    client: Client, settings: Settings, prior: TicketState, cmd: TicketCommand
) -> TicketState:
    data = TicketInput(
        number=prior.number,
        subject=prior.subject,
        message="",
        requester=prior.requester,
        help_topic=prior.help_topic,
        department=prior.department,
        team=prior.team,
        assignee=prior.assignee,
        priority=prior.priority,
        source=prior.source,
        sla_plan=prior.sla_plan,
        idempotency_key=prior.idempotency_key,
        prior_state=prior,
    )
    # The same ticket continues in a new run of its workflow id.
    start = _start_operation(settings, data, WorkflowIDReusePolicy.ALLOW_DUPLICATE)
    try:
        return await client.execute_update_with_start_workflow(
            TicketWorkflow.execute,
            cmd,
            id=cmd.command_id,
            start_workflow_operation=start,
            rpc_timeout=_rpc_timeout(settings),
        )
    except WorkflowUpdateFailedError as err:
        raise Conflict(_reason(err)) from err


async def read_state(
    *, client: Client, sessions: sessionmaker[Session], settings: Settings, number: str
) -> TicketState:
    """The ticket's current state: the projection if it is closed (final), else the workflow."""
    with sessions() as session:
        stored = stored_state(session, number)
    if stored is not None and stored.status is TicketStatus.CLOSED:
        return stored
    handle = client.get_workflow_handle_for(TicketWorkflow.run, ticket_workflow_id(number))
    try:
        return await handle.query(TicketWorkflow.state, rpc_timeout=_rpc_timeout(settings))
    except RPCError as err:
        if stored is not None:
            return stored  # Temporal unreachable or the run just completed: the projection serves
        if err.status is RPCStatusCode.NOT_FOUND:
            raise NotFound(f"ticket {number}") from err
        raise


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


def _reason(err: WorkflowUpdateFailedError) -> str:
    cause = err.cause
    if isinstance(cause, ApplicationError):
        return cause.message
    return str(cause or err)


def _rpc_timeout(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.temporal_rpc_timeout_seconds)
