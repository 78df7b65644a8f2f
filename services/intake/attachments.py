"""Attachments over HTTP: the multipart twins of the routes that take a message (a new ticket,
a reply, a note), and the download of one file."""

import logging
from collections.abc import Iterator
from typing import Annotated, Any, BinaryIO

from fastapi import APIRouter, Path, Request, status
from fastapi.responses import Response, StreamingResponse

from services.intake import tickets
from services.intake.auth import CurrentPrincipal, PresentedKey, RequesterPrincipal, WritingAgent
from services.intake.deps import BlobsDep
from services.intake.multipart import MultipartRoute, read_upload
from services.intake.schemas import TicketCreated, TicketRead
from services.intake.tickets import CommandCtx, Ctx, IdempotencyKey, Number
from services.tickets.errors import NotFound, Unavailable
from services.tickets.inputs import MessageBody, TicketCreate
from shared.blobs import CHUNK, BlobMissing
from shared.db.threads import in_thread
from shared.domain.attachments import content_disposition
from shared.domain.enums import ThreadKind

log = logging.getLogger(__name__)

# Included before the ticket routes: a multipart request to these paths comes here, any other
# request goes on to the JSON route of the same path.
uploads = APIRouter(prefix="/api/v1/tickets", tags=["tickets"], route_class=MultipartRoute)
downloads = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])

AttachmentId = Annotated[str, Path(pattern=r"^[0-9a-f]{40}$", description="attachment id")]
# A ticket's `requester` is an object: in a form, a JSON part.
CREATE_JSON_FIELDS = frozenset({"requester"})


@uploads.post("", status_code=status.HTTP_201_CREATED, include_in_schema=False)
async def create_ticket_with_files(
    request: Request, ctx: Ctx, blobs: BlobsDep, api_key: PresentedKey, key: IdempotencyKey = None
) -> TicketCreated:
    body, files = await read_upload(
        request,
        TicketCreate,
        settings=ctx.tickets.settings,
        blobs=blobs,
        json_fields=CREATE_JSON_FIELDS,
    )
    return await tickets.open_ticket(ctx, body, key, tuple(files), request=request, api_key=api_key)


@uploads.post("/{number}/replies", include_in_schema=False)
async def reply_with_files(
    number: Number,
    request: Request,
    principal: CurrentPrincipal,
    ctx: CommandCtx,
    blobs: BlobsDep,
) -> TicketRead:
    tickets.authorise_reader(principal, ctx.tickets.settings.secret_key, number)
    body, files = await read_upload(
        request, MessageBody, settings=ctx.tickets.settings, blobs=blobs
    )
    return await tickets.send_reply(ctx, number, principal, body, tuple(files))


@uploads.post("/{number}/notes", include_in_schema=False)
async def note_with_files(
    number: Number,
    request: Request,
    agent: WritingAgent,
    ctx: CommandCtx,
    blobs: BlobsDep,
) -> TicketRead:
    body, files = await read_upload(
        request, MessageBody, settings=ctx.tickets.settings, blobs=blobs
    )
    return await tickets.send_note(ctx, number, agent, body, tuple(files))


DOWNLOAD: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, offered as an attachment, with the type it was uploaded as",
        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
        "headers": {
            "Content-Disposition": {
                "description": "attachment; filename=\"…\"; filename*=UTF-8''…",
                "schema": {"type": "string"},
            }
        },
    }
}


@downloads.get("/{number}/attachments/{attachment_id}", response_class=Response, responses=DOWNLOAD)
async def download_attachment(
    number: Number,
    attachment_id: AttachmentId,
    principal: CurrentPrincipal,
    ctx: Ctx,
    blobs: BlobsDep,
) -> StreamingResponse:
    """One file of the ticket's thread, never to be shown inline. Agents may download every
    file; the requester (with the ticket's token) those of messages and responses, not of
    internal notes (404, as for a file that does not exist)."""
    tickets.authorise_reader(principal, ctx.tickets.settings.secret_key, number)
    kind, ref = await ctx.tickets.attachment(number, attachment_id)
    if kind is None or (kind is ThreadKind.NOTE and isinstance(principal, RequesterPrincipal)):
        raise NotFound(f"attachment {attachment_id}")
    try:
        handle = await in_thread(blobs.open, ref.sha256)
    except BlobMissing as err:
        log.error("ticket %s: attachment %s has no content in the blob store", number, ref)
        raise NotFound(f"attachment {attachment_id}") from err
    except OSError as err:
        raise Unavailable("blob store") from err
    headers = {
        "Content-Disposition": content_disposition(ref.name),
        "Content-Length": str(ref.size),
        # Were it ever rendered after all: no scripts, no requests, no plugins.
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    return StreamingResponse(_chunks(handle), media_type=ref.content_type, headers=headers)


def _chunks(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk
