"""Ticket endpoints: parse, authorise, call the ticket service, answer."""

from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response, status
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services.intake.auth import (
    CurrentAgent,
    CurrentPrincipal,
    KeyPrincipal,
    PresentedKey,
    Principal,
    RequesterPrincipal,
    Staff,
    WritingAgent,
    staff_with,
    writing_agent_of,
)
from services.intake.deps import SessionDep, TicketsDep
from services.intake.errors import ErrorBody, Refused, Unauthorized
from services.intake.schemas import TicketCreated, TicketPage, TicketRead, TimelineRead
from services.intake.ticket_list import TicketFilter, list_tickets
from services.tickets.commands import CommandRequest
from services.tickets.inputs import (
    AssignBody,
    LinkBody,
    MessageBody,
    PendingBody,
    PriorityBody,
    RatingBody,
    ResolveBody,
    TicketCreate,
    TransferBody,
)
from services.tickets.service import Tickets
from shared.access import requester_token, requester_token_valid
from shared.db.attachments import StoredFile
from shared.db.threads import in_thread
from shared.domain.enums import Action, ActorKind
from shared.domain.external_refs import ID_MAX, SYSTEM_PATTERN, id_problem
from shared.domain.models import Actor, TicketView
from shared.domain.scopes import Scope

Command = CommandRequest
# The requester, as a ticket's timeline names them when they act through the API.
REQUESTER = Actor(kind=ActorKind.REQUESTER, name="requester")
Files = tuple[StoredFile, ...]
router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
# Six digits for the first 900,000 tickets, more after: any well-formed number is accepted,
# and one that names no ticket is a 404.
Number = Annotated[str, Path(pattern=r"^[1-9][0-9]{5,15}$", description="ticket number")]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]
IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        max_length=40,
        description="The ticket version the command expects (the `version` field, or the ETag "
        'of a read, e.g. `"7"`): 412 if the ticket is at another one. `*`: any version.',
    ),
]


@dataclass(frozen=True)
class TicketContext:
    tickets: Tickets
    response: Response  # where the answer's ETag goes
    key: str | None = None  # Idempotency-Key
    expected_version: int | None = None  # If-Match


async def _context(tickets: TicketsDep, response: Response) -> TicketContext:
    return TicketContext(tickets=tickets, response=response)


async def _command_context(
    ctx: Annotated[TicketContext, Depends(_context)],
    key: IdempotencyKey = None,
    if_match: IfMatch = None,
) -> TicketContext:
    return replace(ctx, key=key, expected_version=expected_version(if_match))


Ctx = Annotated[TicketContext, Depends(_context)]
# A command's: also its Idempotency-Key and If-Match headers.
CommandCtx = Annotated[TicketContext, Depends(_command_context)]


def expected_version(if_match: str | None) -> int | None:
    """The version an If-Match header names: `7`, `"7"` or `W/"7"`; `*` (or none): any."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = if_match.strip().removeprefix("W/").strip('"')
    if not tag.isascii() or not tag.isdigit() or len(tag) > 18:
        raise Refused(422, 'If-Match must name one ticket version, e.g. "7" (or be *)')
    return int(tag)


def etag(version: int) -> str:
    return f'"{version}"'


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "model": TicketCreated,
            "description": "A ticket holds one of the external references: that ticket",
        },
        401: {
            "model": ErrorBody,
            "description": "An API key (tfk_…) was given that is unknown, revoked or expired; "
            "or external references without an agent's token or a key",
        },
        403: {
            "model": ErrorBody,
            "description": "An API key was given that lacks the scope tickets:create; or "
            "external references with a viewer's token or a key without tickets:write",
        },
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
    key: PresentedKey,
    request: Request,
    idempotency_key: IdempotencyKey = None,
) -> TicketCreated:
    """Open a ticket (no credentials needed: this is the public portal's door).

    An integration's API key, if given, must hold tickets:create. Answers once the ticket's
    workflow has started: its number and access token are valid. The same Idempotency-Key and
    request again answers the same ticket, for good.

    `external_refs` (an agent's token, or a key with tickets:write, required) name records of
    other systems the ticket stands for. If a ticket holds one already, the answer is that
    ticket, 200, whatever the rest of the body says (`on_duplicate_external_ref`: `return`,
    the default), 409 (`reject`), or a new ticket without the references others hold
    (`create`).
    """
    return await open_ticket(ctx, body, idempotency_key, request=request, api_key=key)


async def open_ticket(
    ctx: TicketContext,
    body: TicketCreate,
    key: str | None,
    files: Files = (),
    *,
    request: Request,
    api_key: KeyPrincipal | None,
) -> TicketCreated:
    """Create (or find, by its key or an external reference) the ticket; `files` are
    attached to its first message."""
    if api_key is not None:
        staff_with(api_key, Scope.TICKETS_CREATE)
    tickets = ctx.tickets
    if body.external_refs:
        await in_thread(writing_agent_of, request, tickets.sessions)
    created = await tickets.create(body, idempotency_key=key, files=files)
    if not created.new:
        ctx.response.status_code = status.HTTP_200_OK
    read = await read_ticket(ctx, created.view, internal=False)
    ctx.response.headers["ETag"] = etag(created.view.version)
    token = requester_token(tickets.settings.secret_key, created.view.number)
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
    """An agent (or a key with tickets:read) sees everything; the requester (with the ticket's
    token) never sees notes. The ETag is the ticket's version, for If-Match."""
    authorise_reader(principal, ctx.tickets.settings.secret_key, number)
    view = await ctx.tickets.read(number)
    ctx.response.headers["ETag"] = etag(view.version)
    return await read_ticket(ctx, view, internal=not isinstance(principal, RequesterPrincipal))


@router.get("/{number}/timeline")
async def get_timeline(number: Number, _: CurrentAgent, ctx: Ctx) -> TimelineRead:
    return TimelineRead(number=number, events=await ctx.tickets.timeline(number))


@router.post("/{number}/assign")
async def assign(
    number: Number, body: AssignBody, agent: WritingAgent, ctx: CommandCtx
) -> TicketRead:
    return await _send(ctx, Command(number, agent.actor(), Action.ASSIGN, body))


@router.post("/{number}/priority")
async def change_priority(
    number: Number, body: PriorityBody, agent: WritingAgent, ctx: CommandCtx
) -> TicketRead:
    return await _send(ctx, Command(number, agent.actor(), Action.CHANGE_PRIORITY, body))


@router.post("/{number}/transfer")
async def transfer(
    number: Number, body: TransferBody, agent: WritingAgent, ctx: CommandCtx
) -> TicketRead:
    return await _send(ctx, Command(number, agent.actor(), Action.TRANSFER, body))


@router.post("/{number}/replies")
async def reply(
    number: Number,
    body: MessageBody,
    principal: CurrentPrincipal,
    ctx: CommandCtx,
) -> TicketRead:
    """An agent's public response, or the requester's message (which reopens if resolved)."""
    return await send_reply(ctx, number, principal, body)


async def send_reply(
    ctx: TicketContext,
    number: str,
    principal: Principal,
    body: MessageBody,
    files: Files = (),
) -> TicketRead:
    if isinstance(principal, RequesterPrincipal):
        authorise_reader(principal, ctx.tickets.settings.secret_key, number)
        command = Command(number, REQUESTER, Action.REQUESTER_REPLY, body, files=tuple(files))
        return await _send(ctx, command)
    staff = staff_with(principal, Scope.TICKETS_WRITE)
    command = Command(number, staff.actor(), Action.RESPOND, body, files=tuple(files))
    return await _send(ctx, command)


@router.post("/{number}/notes")
async def add_note(
    number: Number, body: MessageBody, agent: WritingAgent, ctx: CommandCtx
) -> TicketRead:
    return await send_note(ctx, number, agent, body)


async def send_note(
    ctx: TicketContext, number: str, agent: Staff, body: MessageBody, files: Files = ()
) -> TicketRead:
    command = Command(number, agent.actor(), Action.NOTE, body, files=tuple(files))
    return await _send(ctx, command)


@router.post("/{number}/pending")
async def set_pending(
    number: Number,
    agent: WritingAgent,
    ctx: CommandCtx,
    body: PendingBody | None = None,
) -> TicketRead:
    """Wait on the requester: the resolution clock pauses until the ticket leaves pending."""
    command = Command(number, agent.actor(), Action.SET_PENDING, body or PendingBody())
    return await _send(ctx, command)


@router.post("/{number}/resolve")
async def resolve(
    number: Number,
    agent: WritingAgent,
    ctx: CommandCtx,
    body: ResolveBody | None = None,
) -> TicketRead:
    return await _send(ctx, Command(number, agent.actor(), Action.RESOLVE, body or ResolveBody()))


@router.post("/{number}/close")
async def close(number: Number, principal: CurrentPrincipal, ctx: CommandCtx) -> TicketRead:
    """Close the ticket: an agent, or its requester (the portal's "Close this ticket")."""
    if isinstance(principal, RequesterPrincipal):
        authorise_reader(principal, ctx.tickets.settings.secret_key, number)
        return await _send(ctx, Command(number, REQUESTER, Action.CLOSE))
    staff = staff_with(principal, Scope.TICKETS_WRITE)
    return await _send(ctx, Command(number, staff.actor(), Action.CLOSE))


@router.post(
    "/{number}/rating",
    responses={403: {"model": ErrorBody, "description": "Only the requester rates a ticket"}},
)
async def rate(
    number: Number, body: RatingBody, principal: CurrentPrincipal, ctx: CommandCtx
) -> TicketRead:
    """The requester rates a closed ticket, good or bad, with an optional comment: once per
    closure (409 if rated already; a ticket reopened and closed again may be rated again)."""
    if not isinstance(principal, RequesterPrincipal):
        raise Refused(403, "only the ticket's requester may rate it")
    authorise_reader(principal, ctx.tickets.settings.secret_key, number)
    return await _send(ctx, Command(number, REQUESTER, Action.RATE, body))


@router.post("/{number}/reopen")
async def reopen(number: Number, agent: WritingAgent, ctx: CommandCtx) -> TicketRead:
    return await _send(ctx, Command(number, agent.actor(), Action.REOPEN))


@router.post("/{number}/links")
async def link(number: Number, body: LinkBody, agent: WritingAgent, ctx: CommandCtx) -> TicketRead:
    """Link the ticket to a record of another system, or give a linked one a new url (409 if
    another ticket holds it, 413 past 20 references)."""
    await ctx.tickets.claim_link(number, body.ref())
    return await _send(ctx, Command(number, agent.actor(), Action.LINK, body))


@router.delete("/{number}/links/{system}/{ref_id:path}")
async def unlink(
    number: Number,
    system: Annotated[str, Path(pattern=SYSTEM_PATTERN)],
    ref_id: Annotated[str, Path(max_length=ID_MAX, description="percent-encoded")],
    agent: WritingAgent,
    ctx: CommandCtx,
) -> TicketRead:
    """Remove a link (404 if the ticket has none to that record); the reference is free then."""
    problem = id_problem(ref_id)
    if problem is not None:
        raise Refused(422, f"external reference id {problem}")
    # Checked by the path's rules and `id_problem` above.
    ref = LinkBody.model_construct(system=system, id=ref_id, url=None)
    return await _send(ctx, Command(number, agent.actor(), Action.UNLINK, ref))


async def _send(ctx: TicketContext, command: Command) -> TicketRead:
    """Run `command` with the request's Idempotency-Key and If-Match; the answer's ETag is
    the ticket's new version."""
    command = replace(command, key=ctx.key, expected_version=ctx.expected_version)
    view = await ctx.tickets.command(command)
    ctx.response.headers["ETag"] = etag(view.version)
    # A command's answer leaves the thread out (GET the ticket for it): a long thread would
    # make every command as slow as reading it.
    internal = command.actor.kind is not ActorKind.REQUESTER
    return TicketRead.of(view, None, {}, internal=internal)


async def read_ticket(ctx: TicketContext, view: TicketView, *, internal: bool) -> TicketRead:
    """The ticket with its thread; without the thread if the database cannot be read now."""
    try:
        found = await ctx.tickets.thread(view)
    except (DBAPIError, PoolTimeout):
        return TicketRead.of(view, None, {}, internal=internal)
    return TicketRead.of(view, found.entries, found.bodies, internal=internal)


def authorise_reader(principal: CurrentPrincipal, secret_key: str, number: str) -> None:
    if isinstance(principal, RequesterPrincipal) and not requester_token_valid(
        secret_key, number, principal.token
    ):
        raise Unauthorized()
