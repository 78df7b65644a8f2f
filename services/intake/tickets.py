"""Ticket endpoints: parse, authorise, call the ticket service, answer."""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, status
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from services.intake import ticket_service
from services.intake.auth import (
    AgentPrincipal,
    CurrentAgent,
    CurrentPrincipal,
    RequesterPrincipal,
    WritingAgent,
)
from services.intake.deps import SessionDep, SessionsDep, SettingsDep, TemporalDep
from services.intake.errors import Forbidden, Unauthorized
from services.intake.schemas import (
    AssignBody,
    MessageBody,
    PendingBody,
    PriorityBody,
    ResolveBody,
    TicketCreate,
    TicketCreated,
    TicketPage,
    TicketRead,
    TimelineRead,
    TransferBody,
)
from services.intake.ticket_list import TicketFilter, list_tickets
from shared.access import requester_token, requester_token_valid
from shared.business_time import Schedule
from shared.db import directory
from shared.db.tables import Department
from shared.enums import Action, ActorKind, Priority, Role
from shared.models import Actor, TicketCommand
from shared.settings import Settings

CommandField = str | Priority | datetime | Schedule | None
router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
Number = Annotated[str, Path(pattern=r"^[0-9]{6}$", description="6-digit ticket number")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@dataclass(frozen=True)
class TicketContext:
    sessions: sessionmaker[Session]
    settings: Settings
    client: Client


def _context(sessions: SessionsDep, settings: SettingsDep, client: TemporalDep) -> TicketContext:
    return TicketContext(sessions=sessions, settings=settings, client=client)


Ctx = Annotated[TicketContext, Depends(_context)]


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_ticket(
    body: TicketCreate,
    ctx: Ctx,
    idempotency_key: IdempotencyKey = None,
) -> TicketCreated:
    """Open a ticket (no credentials needed: this is the public portal's door)."""
    settings = ctx.settings
    state = await ticket_service.create_ticket(
        client=ctx.client,
        sessions=ctx.sessions,
        settings=settings,
        body=body,
        idempotency_key=idempotency_key,
    )
    read = TicketRead.of(state, internal=False)
    token = requester_token(settings.secret_key, state.number)
    return TicketCreated(**read.model_dump(), access_token=token)


@router.get("")
def search_tickets(
    session: SessionDep,
    _: CurrentAgent,
    filters: Annotated[TicketFilter, Query()],
) -> TicketPage:
    return list_tickets(session=session, filters=filters)


@router.get("/{number}")
async def get_ticket(
    number: Number,
    principal: CurrentPrincipal,
    ctx: Ctx,
) -> TicketRead:
    """An agent sees everything; the requester (with the ticket's token) never sees notes."""
    _authorise_reader(principal, ctx.settings.secret_key, number)
    state = await ticket_service.read_state(
        client=ctx.client, sessions=ctx.sessions, settings=ctx.settings, number=number
    )
    return TicketRead.of(state, internal=isinstance(principal, AgentPrincipal))


@router.get("/{number}/timeline")
async def get_timeline(number: Number, _: CurrentAgent, ctx: Ctx) -> TimelineRead:
    state = await ticket_service.read_state(
        client=ctx.client, sessions=ctx.sessions, settings=ctx.settings, number=number
    )
    return TimelineRead(number=state.number, events=state.timeline)


@router.post("/{number}/assign")
async def assign(
    number: Number, body: AssignBody, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    return await _command(ctx, number, agent, Action.ASSIGN, key, agent=body.agent, team=body.team)


@router.post("/{number}/priority")
async def change_priority(
    number: Number, body: PriorityBody, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    return await _command(ctx, number, agent, Action.CHANGE_PRIORITY, key, priority=body.priority)


@router.post("/{number}/transfer")
async def transfer(
    number: Number, body: TransferBody, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    return await _command(ctx, number, agent, Action.TRANSFER, key, department=body.department)


@router.post("/{number}/replies")
async def reply(
    number: Number,
    body: MessageBody,
    principal: CurrentPrincipal,
    ctx: Ctx,
    key: IdempotencyKey = None,
) -> TicketRead:
    """An agent's public response, or the requester's message (which reopens if resolved)."""
    if isinstance(principal, RequesterPrincipal):
        _authorise_reader(principal, ctx.settings.secret_key, number)
        actor = Actor(kind=ActorKind.REQUESTER, name="requester")
        return await _send(ctx, number, actor, Action.REQUESTER_REPLY, key, message=body.message)
    if principal.role is Role.VIEWER:
        raise Forbidden("viewers may read but not change anything")
    return await _command(ctx, number, principal, Action.RESPOND, key, message=body.message)


@router.post("/{number}/notes")
async def add_note(
    number: Number, body: MessageBody, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    return await _command(ctx, number, agent, Action.NOTE, key, message=body.message)


@router.post("/{number}/pending")
async def set_pending(
    number: Number,
    agent: WritingAgent,
    ctx: Ctx,
    body: PendingBody | None = None,
    key: IdempotencyKey = None,
) -> TicketRead:
    """Wait on the requester: the resolution clock pauses until the ticket leaves pending."""
    remind_at = body.remind_at if body else None
    return await _command(ctx, number, agent, Action.SET_PENDING, key, remind_at=remind_at)


@router.post("/{number}/resolve")
async def resolve(
    number: Number,
    agent: WritingAgent,
    ctx: Ctx,
    body: ResolveBody | None = None,
    key: IdempotencyKey = None,
) -> TicketRead:
    resolution = body.resolution if body else None
    return await _command(ctx, number, agent, Action.RESOLVE, key, resolution=resolution)


@router.post("/{number}/close")
async def close(
    number: Number, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    return await _command(ctx, number, agent, Action.CLOSE, key)


@router.post("/{number}/reopen")
async def reopen(
    number: Number, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    return await _command(ctx, number, agent, Action.REOPEN, key)


async def _command(
    ctx: Ctx,
    number: str,
    by: AgentPrincipal,
    action: Action,
    key: str | None,
    **fields: CommandField,
) -> TicketRead:
    actor = Actor(kind=ActorKind.AGENT, name=by.name, handle=by.handle)
    return await _send(ctx, number, actor, action, key, **fields)


async def _send(
    ctx: Ctx,
    number: str,
    actor: Actor,
    action: Action,
    key: str | None,
    **fields: CommandField,
) -> TicketRead:
    with ctx.sessions() as session:
        ticket_service.check_handles(
            session=session,
            agent=_str(fields.get("agent")),
            team=_str(fields.get("team")),
            department=_str(fields.get("department")),
        )
        if action is Action.TRANSFER:
            department = _str(fields.get("department"))
            assert department is not None
            # The new department's hours (None: the ticket falls back to its plan's).
            row = session.get(Department, department)
            schedule = row.schedule if row is not None else None
            fields["schedule"] = directory.business_hours(session, schedule) if schedule else None
    # A client's Idempotency-Key makes a retried command the same update; else a fresh id.
    command_id = f"{actor.kind}:{actor.handle or ''}:{key or uuid.uuid4().hex}"
    cmd = TicketCommand(command_id=command_id, action=action, actor=actor, **fields)
    state = await ticket_service.run_command(
        client=ctx.client, sessions=ctx.sessions, settings=ctx.settings, number=number, cmd=cmd
    )
    return TicketRead.of(state, internal=actor.kind is ActorKind.AGENT)


def _str(value: CommandField) -> str | None:
    return None if value is None else str(value)


def _authorise_reader(principal: CurrentPrincipal, secret_key: str, number: str) -> None:
    if isinstance(principal, RequesterPrincipal) and not requester_token_valid(
        secret_key, number, principal.token
    ):
        raise Unauthorized()
