"""Attachment storage on real databases (SQLite and PostgreSQL) and a real folder: contents
stored once per sha256, written atomically, metadata rows written once, and a ticket's
published thread listing each message's files (and no file of a message never added)."""

import hashlib
import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.workflows.activities import TicketActivities
from shared.blobs import BlobMissing, BlobTooLarge, LocalBlobStore
from shared.db import thread
from shared.db.attachments import find_attachment, store_attachment
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import AttachmentRow
from shared.domain import lifecycle
from shared.domain.enums import Action, ActorKind, ThreadKind
from shared.domain.models import Actor, MessageRef, PublishBatch, TicketCommand
from tests.builders import new_input

T0 = datetime(2026, 11, 24, 9, tzinfo=UTC)
JANE = Actor(kind=ActorKind.AGENT, name="Jane", handle="jane")
PDF = b"%PDF-1.7 " + os.urandom(3000)


def blob_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"]


def leftovers(root: Path) -> list[Path]:
    staging = root / "tmp"
    return list(staging.iterdir()) if staging.exists() else []


def test_a_blob_is_stored_under_its_sha256_and_read_back(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    blob = blobs.put(io.BytesIO(PDF))
    assert blob.sha256 == hashlib.sha256(PDF).hexdigest() and blob.size == len(PDF)
    [stored] = blob_files(tmp_path / "blobs")
    assert stored.name == blob.sha256 and stored.parent.name == blob.sha256[2:4]
    with blobs.open(blob.sha256) as handle:
        assert handle.read() == PDF
    assert leftovers(tmp_path / "blobs") == []
    with pytest.raises(BlobMissing):
        blobs.open("0" * 64)
    with pytest.raises(ValueError, match="not a sha256"):
        blobs.open("../../etc/passwd")


def test_the_same_content_is_stored_once(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    first = blobs.put(io.BytesIO(PDF))
    path = blobs.path(first.sha256)
    inode = path.stat().st_ino
    again = blobs.put(io.BytesIO(PDF))
    assert again == first
    assert path.stat().st_ino == inode  # not rewritten
    assert len(blob_files(tmp_path / "blobs")) == 1
    assert leftovers(tmp_path / "blobs") == []


class Failing(io.RawIOBase):
    """A stream that breaks after some bytes, as a client that goes away mid-upload."""

    def __init__(self, good: int) -> None:
        self.left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self.left <= 0:
            raise OSError("connection reset")
        n = min(len(buffer), self.left, 1000)
        buffer[:n] = b"x" * n
        self.left -= n
        return n


def test_a_deleted_blob_is_gone_and_deleting_again_is_fine(tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    kept, gone = blobs.put(io.BytesIO(b"kept")), blobs.put(io.BytesIO(b"erased"))
    blobs.delete(gone.sha256)
    blobs.delete(gone.sha256)  # an erasure retried
    with pytest.raises(BlobMissing):
        blobs.open(gone.sha256)
    assert blobs.open(kept.sha256).read() == b"kept"


def test_a_write_that_fails_or_runs_over_leaves_nothing_behind(tmp_path: Path) -> None:
    """Atomic: the content appears whole under its name, or not at all."""
    blobs = LocalBlobStore(tmp_path / "blobs")
    with pytest.raises(OSError, match="connection reset"):
        blobs.put(io.BufferedReader(Failing(5000)))
    with pytest.raises(BlobTooLarge):
        blobs.put(io.BytesIO(b"y" * 2049), max_bytes=2048)
    assert blob_files(tmp_path / "blobs") == []
    assert leftovers(tmp_path / "blobs") == []
    exact = blobs.put(io.BytesIO(b"y" * 2048), max_bytes=2048)
    assert exact.size == 2048


def test_store_attachment_writes_content_and_metadata_once(
    database_url: str, tmp_path: Path
) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    sessions = make_sessionmaker(make_engine(database_url))
    stored = []
    for _ in range(2):  # a retry of the same message stores nothing new
        with sessions.begin() as session:
            stored.append(
                store_attachment(
                    session,
                    blobs,
                    ticket="100001",
                    message_id="m" * 40,
                    position=0,
                    name="../Q3 report\r\n.pdf",
                    content_type="Application/PDF; x=1",
                    data=io.BytesIO(PDF),
                    now=T0,
                )
            )
    assert stored[0] == stored[1]
    ref = stored[0]
    assert (ref.name, ref.content_type, ref.size) == ("Q3 report .pdf", "application/pdf", len(PDF))
    assert ref.sha256 == hashlib.sha256(PDF).hexdigest()
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AttachmentRow)) == 1
        found = find_attachment(session, "100001", ref.id)
        assert found is not None and found.ref == ref and found.kind is None
        assert find_attachment(session, "100002", ref.id) is None  # another ticket's id
    with blobs.open(ref.sha256) as handle:
        assert handle.read() == PDF


def test_two_tickets_with_the_same_file_share_one_blob(database_url: str, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    sessions = make_sessionmaker(make_engine(database_url))
    with sessions.begin() as session:
        refs = [
            store_attachment(
                session,
                blobs,
                ticket=ticket,
                message_id=ticket * 4,
                position=0,
                name=f"{ticket}.pdf",
                content_type="application/pdf",
                data=io.BytesIO(PDF),
                now=T0,
            )
            for ticket in ("100001", "100002")
        ]
    assert refs[0].id != refs[1].id and refs[0].sha256 == refs[1].sha256
    assert len(blob_files(tmp_path / "blobs")) == 1
    with sessions() as session:
        rows = session.scalars(select(AttachmentRow).where(AttachmentRow.sha256 == refs[0].sha256))
        assert sorted(row.ticket for row in rows) == ["100001", "100002"]


def test_a_stored_file_over_its_limit_is_refused_and_not_recorded(
    database_url: str, tmp_path: Path
) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    sessions = make_sessionmaker(make_engine(database_url))
    with pytest.raises(BlobTooLarge), sessions.begin() as session:
        store_attachment(
            session,
            blobs,
            ticket="100001",
            message_id="m" * 40,
            position=0,
            name="big.bin",
            content_type=None,
            data=io.BytesIO(b"z" * 101),
            now=T0,
            max_bytes=100,
        )
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AttachmentRow)) == 0
    assert blob_files(tmp_path / "blobs") == []


def test_the_published_thread_lists_each_messages_files(database_url: str, tmp_path: Path) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    sessions = make_sessionmaker(make_engine(database_url))
    number = "424243"

    def message_with_files(identity: str, *contents: bytes) -> MessageRef:
        with sessions.begin() as session:
            ref = thread.store_message(session, number, identity, f"text {identity}", T0)
            files = [
                store_attachment(
                    session,
                    blobs,
                    ticket=number,
                    message_id=ref.id,
                    position=i,
                    name=f"{identity}-{i}.txt",
                    content_type="text/plain",
                    data=io.BytesIO(content),
                    now=T0,
                )
                for i, content in enumerate(contents)
            ]
        return ref.model_copy(update={"attachments": files})

    first = message_with_files("first", b"one", b"two")
    state, _ = lifecycle.open_ticket(new_input(number=number, message=first), T0)
    note = message_with_files("note", b"three")
    cmd = TicketCommand(command_id="n1", action=Action.NOTE, actor=JANE, message=note)
    lifecycle.apply(state, cmd, T0 + timedelta(minutes=1))
    # A reply whose command was never applied: its file is stored but belongs to no entry.
    refused = message_with_files("refused", b"four")
    TicketActivities(sessions).publish_ticket(PublishBatch(state=state))

    with sessions() as session:
        entries = thread.thread_of(session, number, [])
        files = {ref.id: find_attachment(session, number, ref.id) for ref in refused.attachments}
    assert [[f.name for f in e.attachments] for e in entries] == [
        ["first-0.txt", "first-1.txt"],
        ["note-0.txt"],
    ]
    assert entries[1].kind is ThreadKind.NOTE
    [orphan] = files.values()
    assert orphan is not None and orphan.kind is None  # never shown, never downloadable
    with sessions() as session:
        found = find_attachment(session, number, entries[1].attachments[0].id)
    assert found is not None and found.kind is ThreadKind.NOTE
