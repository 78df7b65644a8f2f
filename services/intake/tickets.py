"""Ticket endpoints: parse, authorise, call the ticket service, answer."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from services.intake import external_refs, ticket_service
from services.intake.auth import (
    AgentPrincipal,
    CurrentAgent,
    CurrentPrincipal,
    RequesterPrincipal,
    WritingAgent,
    writing_agent_of,
)
from services.intake.deps import SessionDep, SessionsDep, SettingsDep, TemporalDep
from services.intake.errors import ErrorBody, Forbidden, Refused, Unauthorized
from services.intake.schemas import (
    AssignBody,
    LinkBody,
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
from shared.domain.enums import Action, ActorKind, Role
from shared.domain.external_refs import ID_MAX, SYSTEM_PATTERN, id_problem
from shared.domain.models import Actor, ExternalRef, TicketView
from shared.settings import Settings

Command = ticket_service.CommandRequest
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
        200: {
            "model": TicketCreated,
            "description": "A ticket holds one of the external references: that ticket",
        },
        # Only for external references: the route is public otherwise (no security scheme).
        401: {"model": ErrorBody, "description": "External references without an agent's token"},
        403: {"model": ErrorBody, "description": "External references with a viewer's token"},
        409: {
            "model": ErrorBody,
            "description": "An external reference is on a ticket (`on_duplicate_external_ref`: "
            "`reject`)",
        },
        422: {"description": "Invalid body, or an Idempotency-Key used for another ticket"},
        503: {"description": "Not created (a dependency is down): retry"},
    },
)
async def create_ticket(
    body: TicketCreate,
    ctx: Ctx,
    request: Request,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> TicketCreated:
    """Open a ticket (no credentials needed: this is the public portal's door).

    Answers once the ticket's workflow has started: its number and access token are valid.
    The same Idempotency-Key and request again answers the same ticket, for good.

    `external_refs` (an agent's token required) name records of other systems the ticket
    stands for. If a ticket holds one already, the answer is that ticket, 200, whatever the
    rest of the body says (`on_duplicate_external_ref`: `return`, the default), 409
    (`reject`), or a new ticket without the references others hold (`create`).
    """
    settings = ctx.settings
    if body.external_refs:
        await run_in_threadpool(writing_agent_of, request, ctx.sessions)
        created = await external_refs.create_with_refs(
            client=ctx.client,
            sessions=ctx.sessions,
            settings=settings,
            body=body,
            idempotency_key=idempotency_key,
        )
    else:
        created = await ticket_service.create_ticket(
            client=ctx.client,
            sessions=ctx.sessions,
            settings=settings,
            body=body,
            idempotency_key=idempotency_key,
        )
    if not created.new:
        response.status_code = status.HTTP_200_OK
    read = await _read(ctx, created.view, internal=False)
    token = requester_token(settings.secret_key, created.view.number)
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
    view = await ticket_service.read_view(ctx.client, ctx.sessions, ctx.settings, number)
    return await _read(ctx, view, internal=isinstance(principal, AgentPrincipal))


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
    if isinstance(principal, RequesterPrincipal):
        _authorise_reader(principal, ctx.settings.secret_key, number)
        actor = Actor(kind=ActorKind.REQUESTER, name="requester")
        command = Command(number, actor, Action.REQUESTER_REPLY, key, message=body.message)
        return await _send(ctx, command)
    if principal.role is Role.VIEWER:
        raise Forbidden("viewers may read but not change anything")
    return await _send(
        ctx, Command(number, _agent(principal), Action.RESPOND, key, message=body.message)
    )


@router.post("/{number}/notes")
async def add_note(
    number: Number, body: MessageBody, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    return await _send(ctx, Command(number, _agent(agent), Action.NOTE, key, message=body.message))


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


@router.post("/{number}/links")
async def link(
    number: Number, body: LinkBody, agent: WritingAgent, ctx: Ctx, key: IdempotencyKey = None
) -> TicketRead:
    """Link the ticket to a record of another system, or give a linked one a new url (409 if
    another ticket holds it, 413 past 20 references)."""
    ref = body.ref()
    await external_refs.claim_for_link(
        client=ctx.client, sessions=ctx.sessions, settings=ctx.settings, number=number, ref=ref
    )
    return await _send(ctx, Command(number, _agent(agent), Action.LINK, key, external_ref=ref))


@router.delete("/{number}/links/{system}/{ref_id:path}")
async def unlink(
    number: Number,
    system: Annotated[str, Path(pattern=SYSTEM_PATTERN)],
    ref_id: Annotated[str, Path(max_length=ID_MAX, description="percent-encoded")],
    agent: WritingAgent,
    ctx: Ctx,
    key: IdempotencyKey = None,
) -> TicketRead:
    """Remove a link (404 if the ticket has none to that record); the reference is free then."""
    problem = id_problem(ref_id)
    if problem is not None:
        raise Refused(422, f"external reference id {problem}")
    ref = ExternalRef(system=system, id=ref_id)
    return await _send(ctx, Command(number, _agent(agent), Action.UNLINK, key, external_ref=ref))


def _agent(by: AgentPrincipal) -> Actor:
    return Actor(kind=ActorKind.AGENT, name=by.name, handle=by.handle)


async def _send(ctx: Ctx, command: Command) -> TicketRead:
    view = await ticket_service.run_command(
        client=ctx.client, sessions=ctx.sessions, settings=ctx.settings, request=command
    )
    # A command's answer leaves the thread out (GET the ticket for it): a long thread would
    # make every command as slow as reading it.
    return TicketRead.of(view, None, {}, internal=command.actor.kind is ActorKind.AGENT)


async def _read(ctx: Ctx, view: TicketView, *, internal: bool) -> TicketRead:
    """The ticket with its thread; without the thread if the database cannot be read now."""
    try:
        with ctx.sessions() as session:
            entries = thread.thread_of(session, view.number, view.thread)
            texts = thread.bodies(session, entries)
    except (DBAPIError, PoolTimeout):
        return TicketRead.of(view, None, {}, internal=internal)
    return TicketRead.of(view, entries, texts, internal=internal)


def _authorise_reader(principal: CurrentPrincipal, secret_key: str, number: str) -> None:
    if isinstance(principal, RequesterPrincipal) and not requester_token_valid(
        secret_key, number, principal.token
    ):
        raise Unauthorized()
