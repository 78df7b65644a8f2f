"""Attachments: files of thread messages, their contents in the blob store and their metadata
in `attachments`, stored before the command that adds the message (as message bodies are).

The mail-in path calls `store_attachment` for each file of a mail, after `store_message` for
its body, and sends the command with `MessageRef(..., attachments=[...])`.
"""

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.blobs import Blob, BlobStore
from shared.db.tables import AttachmentRow, ThreadRow
from shared.db.writes import insert_new
from shared.domain.attachments import sanitize_content_type, sanitize_filename
from shared.domain.enums import ThreadKind
from shared.domain.models import AttachmentRef


@dataclass(frozen=True)
class StoredFile:
    """A file whose content is in the blob store, with its (sanitised) name and type."""

    name: str
    content_type: str
    blob: Blob

    @classmethod
    def of(cls, blob: Blob, name: str | None, content_type: str | None) -> "StoredFile":
        return cls(sanitize_filename(name), sanitize_content_type(content_type), blob)


def attachment_id(ticket: str, message_id: str, position: int) -> str:
    """Derived from the message and the file's place in it: a retry stores nothing new."""
    return hashlib.sha256(f"{ticket}\n{message_id}\n{position}".encode()).hexdigest()[:40]


def record_attachment(
    session: Session,
    *,
    ticket: str,
    message_id: str,
    position: int,
    file: StoredFile,
    now: datetime,
) -> AttachmentRef:
    """The metadata row of a file already in the blob store; its reference for the command."""
    ref = AttachmentRef(
        id=attachment_id(ticket, message_id, position),
        name=file.name,
        content_type=file.content_type,
        size=file.blob.size,
        sha256=file.blob.sha256,
    )
    row = {
        **ref.model_dump(),
        "ticket": ticket,
        "message_id": message_id,
        "position": position,
        "created_at": now,
    }
    insert_new(session, AttachmentRow, [row])
    return ref


def store_attachment(
    session: Session,
    blobs: BlobStore,
    *,
    ticket: str,
    message_id: str,
    position: int,
    name: str | None,
    content_type: str | None,
    data: BinaryIO,
    now: datetime,
    max_bytes: int | None = None,
) -> AttachmentRef:
    """Store one file of message `message_id` (from `store_message`) of `ticket`: its content
    in the blob store (once per sha256; `BlobTooLarge` past `max_bytes`), its metadata in
    `attachments`, under an id derived from the message and `position` (0, 1, … in the
    message). The name and content type are sanitised here. Commit `session` before sending
    the command that carries the returned reference."""
    blob = blobs.put(data, max_bytes=max_bytes)
    file = StoredFile.of(blob, name, content_type)
    return record_attachment(
        session, ticket=ticket, message_id=message_id, position=position, file=file, now=now
    )


def attachments_by_message(
    session: Session, ticket: str, message_ids: set[str]
) -> dict[str, list[AttachmentRef]]:
    """The files of these messages of `ticket`, in the order they were sent."""
    if not message_ids:
        return {}
    rows = session.scalars(
        select(AttachmentRow)
        .where(AttachmentRow.ticket == ticket)
        .order_by(AttachmentRow.message_id, AttachmentRow.position)
    ).all()
    found: dict[str, list[AttachmentRef]] = defaultdict(list)
    for row in rows:
        if row.message_id in message_ids:
            found[row.message_id].append(_ref(row))
    return dict(found)


@dataclass(frozen=True)
class FoundAttachment:
    ref: AttachmentRef
    message_id: str
    # The kind of the published thread entry it belongs to; None if none is published (yet).
    kind: ThreadKind | None


def find_attachment(session: Session, ticket: str, id: str) -> FoundAttachment | None:
    row = session.scalar(
        select(AttachmentRow).where(AttachmentRow.ticket == ticket, AttachmentRow.id == id)
    )
    if row is None:
        return None
    kind = session.scalar(
        select(ThreadRow.kind)
        .where(ThreadRow.ticket == ticket, ThreadRow.message_id == row.message_id)
        .limit(1)
    )
    return FoundAttachment(
        ref=_ref(row), message_id=row.message_id, kind=None if kind is None else ThreadKind(kind)
    )


def _ref(row: AttachmentRow) -> AttachmentRef:
    return AttachmentRef(
        id=row.id,
        name=row.name,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
    )
