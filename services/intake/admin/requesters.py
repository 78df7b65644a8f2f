"""Requesters' data on request, for admins: erasure (GDPR Art. 17) and export (Art. 15).

Both go through the ticket service and are audited under a keyed hash of the address (never
the address). An address ticketflow never saw is answered as any other: its erasure finds
nothing to erase (202, then done), its export is empty (200)."""

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response, status

from services.intake.admin.mail_in import InboundMailRead
from services.intake.admin.requester_schemas import (
    ErasureBody,
    ErasureRead,
    ExportedFile,
    ExportedNotification,
    ExportedTicket,
    ExportQuery,
    FileMode,
    RequesterExport,
)
from services.intake.auth import AdminAgent, get_admin
from services.intake.deps import BlobsDep, TicketsDep
from services.intake.schemas import TicketRead
from services.tickets.errors import Unavailable
from services.tickets.export import RequesterRecords, TicketRecord
from shared.blobs import BlobMissing, BlobStore
from shared.db.threads import in_thread

router = APIRouter(
    prefix="/api/v1/admin/requesters", tags=["admin"], dependencies=[Depends(get_admin)]
)
ErasureId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="erasure id")]


@router.post("/erase", status_code=status.HTTP_202_ACCEPTED)
async def erase_requester(
    body: ErasureBody, admin: AdminAgent, tickets: TicketsDep, response: Response
) -> ErasureRead:
    """Erase the personal data of the requester with this address: their open tickets are
    closed ("erased on request"), then every ticket of theirs loses their name, address,
    subject, texts and files, in the database, the blob store and Temporal's history (whose
    key is erased); report facts stay, so past reports add up. Durable: it goes on after any
    crash. Follow it at `Location`. A request for a person whose erasure is under way answers
    that one."""
    progress = await tickets.erase_requester(body.email, actor=admin.actor())
    response.headers["Location"] = f"{router.prefix}/erasures/{progress.id}"
    return ErasureRead.of(progress)


@router.get("/erasures/{erasure_id}")
async def get_erasure(erasure_id: ErasureId, tickets: TicketsDep) -> ErasureRead:
    """How far an erasure got: `done` once every ticket is erased and the address forgotten."""
    return ErasureRead.of(await tickets.erasure(erasure_id))


@router.get("/export")
async def export_requester(
    query: Annotated[ExportQuery, Query()], admin: AdminAgent, tickets: TicketsDep, blobs: BlobsDep
) -> RequesterExport:
    """Everything ticketflow holds of the requester with this address, as one document: their
    tickets as they see them (the public thread, without agents' internal notes; files as
    download paths, or inline with `files=inline`), their rating comments, the inbound mail
    log's entries of their mail and the notifications sent to them."""
    records = await tickets.export_requester(query.email, actor=admin.actor())
    files = await in_thread(_contents, blobs, records) if query.files is FileMode.INLINE else []
    return RequesterExport(
        email=records.email,
        exported_at=records.exported_at,
        tickets=[_ticket(record) for record in records.tickets],
        files=files,
        inbound_mail=[InboundMailRead.of(row) for row in records.mail],
        notifications=[ExportedNotification.of(row) for row in records.notifications],
    )


def _ticket(record: TicketRecord) -> ExportedTicket:
    read = TicketRead.of(record.view, record.entries, record.bodies, internal=False)
    return ExportedTicket(**read.model_dump(), rating_comments=record.rating_comments)


def _contents(blobs: BlobStore, records: RequesterRecords) -> list[ExportedFile]:
    return [
        ExportedFile(
            ticket=record.view.number,
            id=file.id,
            name=file.name,
            content_type=file.content_type,
            size=file.size,
            content_base64=_base64(blobs, file.sha256),
        )
        for record in records.tickets
        for entry in record.entries
        for file in entry.attachments
    ]


def _base64(blobs: BlobStore, sha256: str) -> str | None:
    try:
        with blobs.open(sha256) as handle:
            return base64.b64encode(handle.read()).decode()
    except BlobMissing:
        return None
    except OSError as err:
        raise Unavailable("blob store") from err
