"""Erasure on request on the real stack: two requesters with tickets (messages, files, an
agent's reply, a rating comment, mail), one erased through the admin API. Afterwards no byte
of the erased person's address, name, texts or file is left in the database (on SQLite: the
raw file, its log checkpointed), the blob folder, the inbound mail log or the Temporal
histories (the raw ones and what the stack's own codec can still decode); the SLA report of
the past adds up as before; the other requester's tickets are untouched. The export finds
the other requester's data, and nothing of the erased one."""

import asyncio
import json
import os
import smtplib
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from services.devstack import BIN, Stack
from shared.crypto.key_store import DataKeyErased
from shared.domain.ids import erasure_workflow_id, ticket_workflow_id
from tests.builders import mail
from tests.e2e.conftest import JANE, eventually, started_stack
from tests.payloads import payloads_of

pytestmark = pytest.mark.e2e

TICKETS = "/api/v1/tickets"
ERASE = "/api/v1/admin/requesters/erase"
EXPORT = "/api/v1/admin/requesters/export"


@dataclass(frozen=True)
class Person:
    """A requester whose every datum is unique to this run, so a search finds only theirs."""

    name: str
    email: str
    subject: str
    message: str
    reply: str
    comment: str
    file: bytes

    @classmethod
    def new(cls, first: str) -> "Person":
        tag = uuid.uuid4().hex[:12]
        return cls(
            name=f"{first} Q{tag}",
            email=f"{first.lower()}.{tag}@example.com",
            subject=f"Card {tag} was swallowed",
            message=f"my card {uuid.uuid4().hex} went into the machine",
            reply=f"it was at branch {uuid.uuid4().hex}",
            comment=f"thanks {uuid.uuid4().hex}",
            file=f"scan {uuid.uuid4().hex}\n".encode() + os.urandom(3000),
        )

    def markers(self) -> dict[str, bytes]:
        return {
            "name": self.name.encode(),
            "address": self.email.encode(),
            "subject": self.subject.encode(),
            "message": self.message.encode(),
            "reply": self.reply.encode(),
            "comment": self.comment.encode(),
            "file": self.file[:40],
            "file's bytes": self.file[-64:],
        }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    var = tmp_path_factory.mktemp(f"erasure-{request.param}")
    with started_stack(request.param, var) as started:
        yield started


def open_with_file(api: httpx.Client, person: Person) -> tuple[str, dict[str, str]]:
    fields = {
        "requester": json.dumps({"name": person.name, "email": person.email}),
        "subject": person.subject,
        "message": person.message,
        "help_topic": "online-banking",
    }
    files = [("files", ("scan.bin", person.file, "application/octet-stream"))]
    created = api.post(TICKETS, data=fields, files=files)
    assert created.status_code == 201, created.text
    token = {"Authorization": f"Bearer {created.json()['access_token']}"}
    return created.json()["number"], token


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201, 202), response.text
    body: dict[str, Any] = response.json()
    return body


def a_story(api: httpx.Client, person: Person) -> tuple[str, str]:
    """A closed ticket (file, agent's reply, requester's reply, rating comment) and an open
    one; their numbers."""
    closed, token = open_with_file(api, person)
    ok(api.post(f"{TICKETS}/{closed}/replies", json={"message": "Looking into it"}, headers=JANE))
    ok(api.post(f"{TICKETS}/{closed}/replies", json={"message": person.reply}, headers=token))
    ok(api.post(f"{TICKETS}/{closed}/resolve", json={"resolution": "Card sent"}, headers=JANE))
    ok(api.post(f"{TICKETS}/{closed}/close", headers=JANE))
    rating = {"rating": "good", "comment": person.comment}
    ok(api.post(f"{TICKETS}/{closed}/rating", json=rating, headers=token))
    still_open, _ = open_with_file(api, person)
    return closed, still_open


def send_mail(stack: Stack, person: Person) -> None:
    message = mail(
        sender=f"{person.name} <{person.email}>",
        subject=f"Re: {person.subject}",
        body=f"{person.message} (by mail)",
    )
    with smtplib.SMTP("127.0.0.1", stack.mail_in_port, timeout=30) as smtp:
        assert smtp.send_message(message, from_addr=person.email) == {}


def sla_report(api: httpx.Client, since: datetime, until: datetime) -> dict[str, Any]:
    window = {"from": since.isoformat(), "to": until.isoformat(), "group_by": "team"}
    return ok(api.get("/api/v1/reports/sla", params=window, headers=JANE))


def database_bytes(stack: Stack) -> bytes:
    """SQLite: the database file as stored, after the log was checkpointed into it.
    PostgreSQL: what pg_dump writes of it."""
    if stack.database_url.startswith("sqlite"):
        path = Path(stack.database_url.removeprefix("sqlite:///"))
        with sqlite3.connect(path) as conn:
            for _ in range(50):  # until no reader holds an older snapshot
                busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    break
                time.sleep(0.2)
            assert not busy, "the log could not be checkpointed"
        wal = path.with_name(path.name + "-wal")
        return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    url = make_url(stack.database_url).set(drivername="postgresql")
    dumped = subprocess.run(
        ["pg_dump", url.render_as_string(hide_password=False)], capture_output=True, check=True
    )
    return dumped.stdout


def blob_bytes(stack: Stack) -> bytes:
    root = stack.var / "blobs"
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


async def history_bytes(stack: Stack, workflow_ids: list[str]) -> tuple[bytes, int]:
    """The histories as Temporal keeps them, and every payload of them that the stack's codec
    still decodes; how many it could not (their data key is erased)."""
    client = await stack.temporal_client()
    codec = client.data_converter.payload_codec
    assert codec is not None, "the stack encrypts its payloads"
    seen, unreadable = [], 0
    for workflow_id in workflow_ids:
        async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
            seen.append(event.SerializeToString())
            for payload in payloads_of(event):
                try:
                    seen += [p.SerializeToString() for p in await codec.decode([payload])]
                except DataKeyErased:
                    unreadable += 1
    return b"".join(seen), unreadable


def shown_by_cli(stack: Stack, workflow_id: str) -> bytes:
    shown = subprocess.run(
        [str(BIN / "temporal"), "workflow", "show", "--workflow-id", workflow_id, "-o", "json"],
        env={**stack.env, "TEMPORAL_ADDRESS": f"127.0.0.1:{stack.temporal_port}"},
        capture_output=True,
        check=True,
    )
    return shown.stdout


def found(markers: dict[str, bytes], where: bytes) -> list[str]:
    return [what for what, marker in markers.items() if marker in where]


def test_an_erased_requester_leaves_no_trace(api: httpx.Client, stack: Stack) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    zelda, bob = Person.new("Zelda"), Person.new("Bob")
    erased = a_story(api, zelda)
    kept = a_story(api, bob)
    send_mail(stack, zelda)
    by_mail = eventually(
        lambda: [
            row["ticket"]
            for row in ok(api.get("/api/v1/admin/mail-in", headers=JANE))["items"]
            if row["mail_from"] == zelda.email and row["ticket"]
        ],
        what="zelda's mail on a ticket",
    )
    zeldas = sorted({*erased, *by_mail})
    # Every write of the story has landed (projections and outbox lag by a moment).
    time.sleep(2)
    still_open = [
        number
        for number in zeldas
        if ok(api.get(f"{TICKETS}/{number}", headers=JANE))["status"] in ("open", "pending")
    ]
    until = datetime.now(UTC)
    report_before = sla_report(api, since, until)

    asked = api.post(ERASE, json={"email": zelda.email.upper()}, headers=JANE)
    assert asked.status_code == 202, asked.text
    erasure = asked.json()
    assert asked.headers["Location"].endswith(f"/erasures/{erasure['id']}")
    assert zelda.email not in asked.headers["Location"]

    def progress() -> dict[str, Any]:
        return ok(api.get(asked.headers["Location"], headers=JANE))

    # The worker dies as the erasure gets going (its tickets found); another takes it over.
    eventually(lambda: progress()["tickets_found"] is not None, what="the tickets looked up")
    stack.kill("worker")
    stack.start_worker()
    finished = eventually(
        lambda: (state := progress())["status"] == "done" and state,
        timeout=90,
        what="the erasure to finish",
    )
    assert finished["tickets_found"] == finished["tickets_erased"] == len(zeldas)

    # The tickets stay, closed, without their requester; the other requester's are whole.
    for number in zeldas:
        read = ok(api.get(f"{TICKETS}/{number}", headers=JANE))
        assert read["status"] == "closed"
        assert read["requester"] == {"name": "(erased)", "email": "(erased)"}
        assert read["subject"] == "(erased)"
        assert all(entry["body"] == "" for entry in read["thread"]), read["thread"]
        assert all(not entry["attachments"] for entry in read["thread"])
        for refused in (
            api.post(f"{TICKETS}/{number}/reopen", headers=JANE),
            api.post(f"{TICKETS}/{number}/replies", json={"message": zelda.reply}, headers=JANE),
        ):
            assert refused.status_code == 409, refused.text
    for number in kept:
        read = ok(api.get(f"{TICKETS}/{number}", headers=JANE))
        assert read["requester"] == {"name": bob.name, "email": bob.email}
        assert bob.message in [entry["body"] for entry in read["thread"]]
        download = read["thread"][0]["attachments"][0]["download"]
        assert api.get(download, headers=JANE).content == bob.file

    # Nothing of hers anywhere; Bob's data in the same places shows the search finds data.
    database = database_bytes(stack)
    assert found(zelda.markers(), database) == []
    assert found(bob.markers(), database) == [
        "name",
        "address",
        "subject",
        "message",
        "reply",
        "comment",
    ]
    blobs = blob_bytes(stack)
    assert found(zelda.markers(), blobs) == []
    assert found(bob.markers(), blobs) == ["file", "file's bytes"]
    mail_log = api.get("/api/v1/admin/mail-in", headers=JANE).content
    assert found(zelda.markers(), mail_log) == []

    workflows = [ticket_workflow_id(n) for n in zeldas] + [erasure_workflow_id(erasure["id"])]
    histories, unreadable = asyncio.run(history_bytes(stack, workflows))
    assert found(zelda.markers(), histories) == []
    assert unreadable > 0  # her tickets' payloads: their key is gone
    for workflow_id in workflows:
        assert found(zelda.markers(), shown_by_cli(stack, workflow_id)) == []
    bobs_history, bobs_unreadable = asyncio.run(history_bytes(stack, [ticket_workflow_id(kept[1])]))
    assert bob.email.encode() in bobs_history and bobs_unreadable == 0

    # The past adds up as before; only today's backlog lost her tickets left open.
    report_after = sla_report(api, since, until)
    backlog = [
        sum(report["totals"]["backlog"].values()) for report in (report_before, report_after)
    ]
    assert backlog[0] - backlog[1] == len(still_open)
    for report in (report_before, report_after):
        del report["totals"]["backlog"], report["totals"]["overdue"], report["rows"]
    assert report_after == report_before

    # An export finds Bob's tickets and files, nothing of hers; both were audited, by hash.
    bobs = ok(api.get(EXPORT, params={"email": bob.email, "files": "inline"}, headers=JANE))
    assert sorted(t["number"] for t in bobs["tickets"]) == sorted(kept)
    assert [t["rating_comments"] for t in bobs["tickets"]] == [[bob.comment], []]
    assert {f["ticket"] for f in bobs["files"]} == set(kept)
    hers = ok(api.get(EXPORT, params={"email": zelda.email}, headers=JANE))
    assert hers["tickets"] == hers["inbound_mail"] == hers["notifications"] == []
    audit = api.get("/api/v1/admin/audit", params={"entity": "requester"}, headers=JANE)
    assert [e["action"] for e in ok(audit)["items"]] == [
        "exported",
        "exported",
        "erasure_requested",
    ]
    assert found({**zelda.markers(), **bob.markers()}, audit.content) == []

    # An address never seen: an erasure with nothing to erase.
    unknown = ok(api.post(ERASE, json={"email": "nobody@example.com"}, headers=JANE))
    location = f"{ERASE.removesuffix('/erase')}/erasures/{unknown['id']}"
    nothing = eventually(
        lambda: (state := ok(api.get(location, headers=JANE)))["status"] == "done" and state,
        what="the empty erasure",
    )
    assert (nothing["tickets_found"], nothing["tickets_erased"]) == (0, 0)
