"""Attachments, the pure part: file names and types as stored and offered, the download
header, and the caps the state machine keeps on a ticket's files."""

import hashlib
from datetime import timedelta
from urllib.parse import unquote

import pytest

from shared.domain import attachments, lifecycle
from shared.domain.attachments import (
    content_disposition,
    sanitize_content_type,
    sanitize_filename,
)
from shared.domain.enums import Action
from shared.domain.lifecycle import IllegalTransition, Refusal
from shared.domain.models import AttachmentRef, MessageRef, TicketCommand
from tests.builders import AGENT, T0, ticket_state


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\Desktop\\invoice.xlsx", "invoice.xlsx"),
        ("/abs/path/", "attachment"),
        ("..", "attachment"),
        ("", "attachment"),
        (None, "attachment"),
        ("  spaced   out  .txt ", "spaced out .txt"),
        ("line\r\nbreak.txt", "line break.txt"),
        ("nul\x00byte.bin", "nulbyte.bin"),
        ("bell\x07.txt", "bell.txt"),
        # A right-to-left override would make "evil\u202etxt.exe" read as "evilexe.txt".
        ("evil\u202etxt.exe", "eviltxt.exe"),
        ("sep\u2028arator.txt", "separator.txt"),
        ("trailing dots...", "trailing dots"),
        (".hidden", "hidden"),
        ("Grüße 山田.docx", "Grüße 山田.docx"),
        ("e\u0301.txt", "\u00e9.txt"),  # NFC
    ],
)
def test_filenames_are_sanitised(raw: str | None, stored: str) -> None:
    assert sanitize_filename(raw) == stored


def test_a_long_name_is_cut_and_keeps_its_extension() -> None:
    name = sanitize_filename("x" * 500 + ".tar.gz")
    assert len(name) == attachments.NAME_MAX and name.endswith("x.gz")
    assert len(sanitize_filename("y" * 500)) == attachments.NAME_MAX
    odd = sanitize_filename("z" * 300 + "." + "e" * 40)  # no real extension: cut plainly
    assert len(odd) == attachments.NAME_MAX and odd.startswith("z")


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("image/png", "image/png"),
        ("Text/HTML; charset=utf-8", "text/html"),
        (
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (None, "application/octet-stream"),
        ("", "application/octet-stream"),
        ("nonsense", "application/octet-stream"),
        ("text/plain\r\nSet-Cookie: a=b", "application/octet-stream"),
        ("image/png\x00", "application/octet-stream"),
        ("a/" + "b" * 200, "application/octet-stream"),
        ("text/plain extra", "application/octet-stream"),
    ],
)
def test_content_types_are_well_formed_or_octet_stream(raw: str | None, kept: str) -> None:
    assert sanitize_content_type(raw) == kept


@pytest.mark.parametrize(
    "name",
    [
        'a"; filename="evil.exe',
        "résumé; x=y.pdf",
        "new\r\nline.txt",
        "山田.txt",
        "100% done.txt",
    ],
)
def test_content_disposition_cannot_be_broken_out_of(name: str) -> None:
    header = content_disposition(sanitize_filename(name))
    assert header.startswith('attachment; filename="')
    assert "\r" not in header and "\n" not in header
    plain, encoded = header.removeprefix('attachment; filename="').split("\"; filename*=UTF-8''")
    # The fallback holds no quote or backslash; the exact name is percent-encoded throughout.
    assert '"' not in plain and "\\" not in plain and ";" not in plain
    assert all(c.isalnum() or c in "%-._~" for c in encoded), encoded


def test_content_disposition_round_trips_the_exact_name() -> None:
    header = content_disposition("Grüße 山田.docx")
    assert header.split("filename*=UTF-8''")[1] == "Gr%C3%BC%C3%9Fe%20%E5%B1%B1%E7%94%B0.docx"
    assert unquote(header.split("filename*=UTF-8''")[1]) == "Grüße 山田.docx"
    assert header.startswith('attachment; filename="Grue .docx";')


def file(size: int, name: str = "a.bin", n: int = 0) -> AttachmentRef:
    return AttachmentRef(
        id=f"{n:040x}",
        name=name,
        content_type="application/octet-stream",
        size=size,
        sha256=hashlib.sha256(str(n).encode()).hexdigest(),
    )


def note_with(*files: AttachmentRef, command_id: str = "n") -> TicketCommand:
    message = MessageRef(id="m" * 40, size=4, attachments=list(files))
    return TicketCommand(command_id=command_id, action=Action.NOTE, actor=AGENT, message=message)


def test_files_are_kept_on_the_thread_entry_and_counted_apart_from_text() -> None:
    state = ticket_state()
    bytes_before = state.thread_bytes
    lifecycle.apply(state, note_with(file(1000), file(24, n=1)), T0 + timedelta(minutes=1))
    entry = state.thread[-1]
    assert [f.size for f in entry.attachments] == [1000, 24]
    assert state.attachment_bytes == 1024
    assert state.thread_bytes == bytes_before + 4


def test_a_ticket_full_of_files_refuses_more_with_413() -> None:
    state = ticket_state()
    state.attachment_bytes = lifecycle.MAX_ATTACHMENT_BYTES - 10
    with pytest.raises(IllegalTransition, match="200 MiB of attachments") as refused:
        lifecycle.check(state, note_with(file(11)))
    assert refused.value.refusal is Refusal.TICKET_FULL
    lifecycle.check(state, note_with(file(10)))  # exactly full is allowed
    lifecycle.check(state, note_with())  # and text goes on without files


def test_a_message_carries_a_bounded_number_of_small_references() -> None:
    state = ticket_state()
    many = [file(1, n=i) for i in range(attachments.MAX_FILES_PER_ENTRY + 1)]
    with pytest.raises(IllegalTransition, match="at most 20 attachments") as refused:
        lifecycle.check(state, note_with(*many))
    assert refused.value.refusal is Refusal.INVALID
    lifecycle.check(state, note_with(*many[:-1]))
    with pytest.raises(IllegalTransition, match="malformed"):
        lifecycle.check(state, note_with(file(1, name="n" * (attachments.NAME_MAX + 1))))


def test_old_references_without_files_still_decode() -> None:
    """Replay safety: what histories from before attachments hold decodes with no files."""
    assert MessageRef.model_validate({"id": "x", "size": 1}).attachments == []
    state = ticket_state()
    data = state.model_dump(mode="json")
    data.pop("attachment_bytes")
    for entry in data["thread"]:
        entry.pop("attachments")
    restored = type(state).model_validate(data)
    assert restored.attachment_bytes == 0 and restored.thread[0].attachments == []
