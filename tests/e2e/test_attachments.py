"""Attachments over HTTP against the real stack, on both databases: files on a new ticket, a
requester's reply and an internal note come back byte for byte, each to whom it may; limits
are 413/422."""

import hashlib
import json
import os
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from services.devstack import Stack
from tests.e2e.conftest import JANE, attachments_of, new_ticket

pytestmark = pytest.mark.e2e

TICKETS = "/api/v1/tickets"
MiB = 1024 * 1024


def as_json(fields: dict[str, str]) -> dict[str, Any]:
    return {**fields, "requester": json.loads(fields["requester"])}


def test_files_round_trip_to_whom_they_may(api: httpx.Client, stack: Stack) -> None:
    # Larger than MAX_BODY_BYTES (64 KiB): only the upload routes take such a body.
    uploads = {
        "created": ("statement.pdf", os.urandom(300_000), "application/pdf"),
        "replied": ("../résumé; final.txt", "Grüße\n".encode() * 1000, "text/plain"),
        "noted": ("dc2-lb.log", os.urandom(70_000), "text/html"),
    }
    created = api.post(
        TICKETS, data=new_ticket("Statement wrong"), files=[("files", uploads["created"])]
    )
    assert created.status_code == 201, created.text
    number, token = created.json()["number"], created.json()["access_token"]
    alice = {"Authorization": f"Bearer {token}"}
    replied = api.post(
        f"{TICKETS}/{number}/replies",
        data={"payload": json.dumps({"message": "Here is my résumé"})},
        files=[("files", uploads["replied"])],
        headers=alice,
    )
    assert replied.status_code == 200, replied.text
    noted = api.post(
        f"{TICKETS}/{number}/notes",
        data={"message": "LB log attached"},
        files=[("files", uploads["noted"])],
        headers=JANE,
    )
    assert noted.status_code == 200, noted.text

    read = api.get(f"{TICKETS}/{number}", headers=JANE).json()
    assert [(e["kind"], len(e["attachments"])) for e in read["thread"]] == [
        ("message", 1),
        ("message", 1),
        ("note", 1),
    ]
    files = attachments_of(read)
    for file, (_, content, content_type) in zip(files, uploads.values(), strict=True):
        assert file["size"] == len(content)
        assert file["sha256"] == hashlib.sha256(content).hexdigest()
        assert file["download"] == f"{TICKETS}/{number}/attachments/{file['id']}"
        got = api.get(file["download"], headers=JANE)
        assert got.status_code == 200, got.text
        assert got.content == content
        assert hashlib.sha256(got.content).hexdigest() == file["sha256"]
        assert got.headers["content-type"].startswith(content_type)
        assert got.headers["x-content-type-options"] == "nosniff"
        disposition = got.headers["content-disposition"]
        assert disposition.startswith("attachment; ")
        assert disposition.endswith("filename*=UTF-8''" + quote(file["name"], safe=""))
    assert files[1]["name"] == "résumé; final.txt"  # stored sanitised, served encoded

    # The requester sees the files of the public entries, not the note's.
    theirs = api.get(f"{TICKETS}/{number}", headers=alice).json()
    assert [f["id"] for f in attachments_of(theirs)] == [f["id"] for f in files[:2]]
    for file, (_, content, _) in zip(files[:2], uploads.values(), strict=False):
        got = api.get(file["download"], headers=alice)
        assert got.status_code == 200 and got.content == content
    assert api.get(files[2]["download"], headers=alice).status_code == 404
    assert api.get(files[0]["download"]).status_code == 401
    other = api.post(TICKETS, json=as_json(new_ticket("Someone else")))
    assert other.status_code == 201, other.text
    stranger = {"Authorization": f"Bearer {other.json()['access_token']}"}
    assert api.get(files[0]["download"], headers=stranger).status_code == 401
    unknown = f"{TICKETS}/{number}/attachments/{'0' * 40}"
    assert api.get(unknown, headers=JANE).status_code == 404
    # Another ticket's number with this file's id: not found there.
    elsewhere = f"{TICKETS}/{other.json()['number']}/attachments/{files[0]['id']}"
    assert api.get(elsewhere, headers=JANE).status_code == 404
    # Contents are stored once each, by their sha256, in the stack's blob folder.
    stored = {p.name for p in (stack.var / "blobs").rglob("*") if p.is_file()}
    assert {f["sha256"] for f in files} <= stored


def test_limits_are_answered_clearly(api: httpx.Client) -> None:
    opened = api.post(TICKETS, json=as_json(new_ticket("Limits")))
    assert opened.status_code == 201, opened.text
    number = opened.json()["number"]
    big = ("big.bin", b"\0" * (10 * MiB + 1), "application/octet-stream")
    too_large = api.post(
        f"{TICKETS}/{number}/notes", data={"message": "big"}, files=[("files", big)], headers=JANE
    )
    assert too_large.status_code == 413, too_large.text
    assert "larger than 10 MiB" in too_large.json()["detail"]
    eleven = [("files", (f"{i}.txt", b"x", "text/plain")) for i in range(11)]
    too_many = api.post(
        f"{TICKETS}/{number}/notes", data={"message": "many"}, files=eleven, headers=JANE
    )
    assert too_many.status_code == 422, too_many.text
    assert "at most 10 files" in too_many.json()["detail"][0]["msg"]
    # A JSON body on the same route keeps MAX_BODY_BYTES.
    huge = {"message": "m" * 70_000}
    assert api.post(f"{TICKETS}/{number}/notes", json=huge, headers=JANE).status_code == 413
    thread = api.get(f"{TICKETS}/{number}", headers=JANE).json()["thread"]
    assert len(thread) == 1 and thread[0]["attachments"] == []
