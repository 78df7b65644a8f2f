"""Ticket endpoints: parse, authorise, call the ticket service, answer."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, status
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from services.intake import ticket_service
from services.intake.auth import (
    AgentPrincipal,
    CurrentAgent,
    CurrentPrincipal,
    Principal,
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
from shared.db import thread
from shared.db.attachments import StoredFile
from shared.domain.enums import Action, ActorKind, Role
from shared.domain.models import Actor, TicketView
from shared.settings import Settings

Command = ticket_service.CommandRequest
Files = tuple[StoredFile, ...]
router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
# Six digits for the first 900,000 tickets, more after: any well-formed number is accepted,
# and one that names no ticket is a 404.
Number = Annotated[str, Path(pattern=r"^[1-9][0-9]{5,15}$", description="ticket number")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@dataclass(frozen=True)
class TicketContext:
    sessions: sessionmaker[Session]
    settings: Settings
    client: Client


def _context(sessions: SessionsDep, settings: SettingsDep, client: TemporalDep) -> TicketContext:
    return TicketContext(sessions=sessions, settings=settings, client=client)


Ctx = Annotated[TicketContext, Depends(_context)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        422: {"description": "Invalid body, or an Idempotency-Key used for another ticket"},
        503: {"description": "Not created (a dependency is down): retry"},
    },
)
async def create_ticket(
    body: TicketCreate,
    ctx: Ctx,
    idempotency_key: IdempotencyKey = None,
) -> TicketCreated:
    """Open a ticket (no credentials needed: this is the public portal's door).

    Answers once the ticket's workflow has started: its number and access token are valid.
    The same Idempotency-Key and request again answers the same ticket, for good.
    """
    return await open_ticket(ctx, body, idempotency_key)


async def open_ticket(
    ctx: TicketContext, body: TicketCreate, key: str | None, files: Files = ()
) -> TicketCreated:
    """Create (or find, by its key) the ticket; `files` are attached to its first message."""
    settings = ctx.settings
    created = await ticket_service.create_ticket(
        client=ctx.client,
        sessions=ctx.sessions,
        settings=settings,
        body=body,
        idempotency_key=key,
        files=files,
    )
    read = await read_ticket(ctx, created, internal=False)
    token = requester_token(settings.secret_key, created.number)
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
    authorise_reader(principal, ctx.settings.secret_key, number)
    view = await ticket_service.read_view(ctx.client, ctx.sessions, ctx.settings, number)
    return await read_ticket(ctx, view, internal=isinstance(principal, AgentPrincipal))


@router.get("/{number}/timeline")
async def get_timeline(number: Number, _: CurrentAgent, ctx: Ctx) -> TimelineRead:
    await ticket_service.read_view(ctx.client, ctx.sessions, ctx.settings, number)
    with ctx.sessions() as session:
        events = thread.timeline_of(session, number)
    return TimelineRead(number=number, events=events)


@router.post("/{number}/assign")
async def assign(
    number: Number, body: AssignBody, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    return await _send(
        ctx, Command(number, _agent(agent), Action.ASSIGN, key, agent=body.agent, team=body.team)
    )


@router.post("/{number}/priority")
async def change_priority(
    number: Number, body: PriorityBody, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    return await _send(
        ctx, Command(number, _agent(agent), Action.CHANGE_PRIORITY, key, priority=body.priority)
    )


@router.post("/{number}/transfer")
async def transfer(
    number: Number, body: TransferBody, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    return await _send(
        ctx, Command(number, _agent(agent), Action.TRANSFER, key, department=body.department)
    )


@router.post("/{number}/replies")
async def reply(
    number: Number,
    body: MessageBody,
    principal: CurrentPrincipal,
    ctx: Ctx,
    key: IdempotencyKey = None,
) -> TicketRead:
    """An agent's public response, or the requester's message (which reopens if resolved)."""
    return await send_reply(ctx, number, principal, body, key)


async def send_reply(
    ctx: TicketContext,
    number: str,
    principal: Principal,
    body: MessageBody,
    key: str | None,
    files: Files = (),
) -> TicketRead:
    if isinstance(principal, RequesterPrincipal):
        authorise_reader(principal, ctx.settings.secret_key, number)
        actor = Actor(kind=ActorKind.REQUESTER, name="requester")
        action = Action.REQUESTER_REPLY
    elif principal.role is Role.VIEWER:
        raise Forbidden("viewers may read but not change anything")
    else:
        actor, action = _agent(principal), Action.RESPOND
    return await _send(ctx, Command(number, actor, action, key, message=body.message, files=files))


@router.post("/{number}/notes")
async def add_note(
    number: Number, body: MessageBody, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    return await send_note(ctx, number, agent, body, key)


async def send_note(
    ctx: TicketContext,
    number: str,
    agent: AgentPrincipal,
    body: MessageBody,
    key: str | None,
    files: Files = (),
) -> TicketRead:
    command = Command(number, _agent(agent), Action.NOTE, key, message=body.message, files=files)
    return await _send(ctx, command)


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
    return await _send(
        ctx, Command(number, _agent(agent), Action.SET_PENDING, key, remind_at=remind_at)
    )


@router.post("/{number}/resolve")
async def resolve(
    number: Number,
    agent: WritingAgent,
    ctx: Ctx,
    body: ResolveBody | None = None,
    key: IdempotencyKey = None,
) -> TicketRead:
    resolution = body.resolution if body else None
    return await _send(
        ctx, Command(number, _agent(agent), Action.RESOLVE, key, resolution=resolution)
    )


@router.post("/{number}/close")
async def close(
    number: Number, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    return await _send(ctx, Command(number, _agent(agent), Action.CLOSE, key))


@router.post("/{number}/reopen")
async def reopen(
    number: Number, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    return await _send(ctx, Command(number, _agent(agent), Action.REOPEN, key))


def _agent(by: AgentPrincipal) -> Actor:
    return Actor(kind=ActorKind.AGENT, name=by.name, handle=by.handle)


async def _send(ctx: Ctx, command: Command) -> TicketRead:
    view = await ticket_service.run_command(
        client=ctx.client, sessions=ctx.sessions, settings=ctx.settings, request=command
    )
    # A command's answer leaves the thread out (GET the ticket for it): a long thread would
    # make every command as slow as reading it.
    return TicketRead.of(view, None, {}, internal=command.actor.kind is ActorKind.AGENT)


async def read_ticket(ctx: Ctx, view: TicketView, *, internal: bool) -> TicketRead:
    """The ticket with its thread; without the thread if the database cannot be read now."""
    try:
        with ctx.sessions() as session:
            entries = thread.thread_of(session, view.number, view.thread)
            texts = thread.bodies(session, entries)
    except (DBAPIError, PoolTimeout):
        return TicketRead.of(view, None, {}, internal=internal)
    return TicketRead.of(view, entries, texts, internal=internal)


def authorise_reader(principal: CurrentPrincipal, secret_key: str, number: str) -> None:
    if isinstance(principal, RequesterPrincipal) and not requester_token_valid(
        secret_key, number, principal.token
    ):
        raise Unauthorized()
