"""Multipart uploads at the intake's edge, on SQLite and PostgreSQL: a form reads into the same
body as its JSON twin (fields, or one `payload` part), files are stored before the command,
bad forms are 400/422, too many files 422, too large 413; the larger body limit holds for
multipart uploads to the upload routes only; credentials come before the body.

The ticket service is replaced by a recorder that answers 503, so no Temporal server is
needed: the round trip through real workflows is tests/e2e/test_attachments.py."""

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.tickets.commands import CommandRequest
from services.tickets.errors import Unavailable
from services.tickets.inputs import MessageBody, TicketCreate
from services.tickets.service import Tickets
from tests.builders import agent_headers, ticket_body

TICKETS = "/api/v1/tickets"
TICKET = ticket_body()
FILE_LIMIT = 1000
BODY_LIMIT = 4096
UPLOAD_LIMIT = 2 * FILE_LIMIT + BODY_LIMIT


def form(body: dict[str, Any]) -> dict[str, str]:
    """A body's fields as form fields, an object as its JSON."""
    return {k: json.dumps(v) if isinstance(v, dict) else v for k, v in body.items()}


@pytest.fixture
def blob_dir(tmp_path: Path) -> Path:
    return tmp_path / "blobs"


@pytest.fixture
def client(client_for: Callable[..., TestClient], blob_dir: Path) -> TestClient:
    """The intake with small limits, storing files under `blob_dir`."""
    return client_for(
        blob_store_dir=str(blob_dir),
        max_attachment_bytes=FILE_LIMIT,
        max_attachments_per_message=2,
        max_body_bytes=BODY_LIMIT,
    )


@pytest.fixture
def agent(database_url: str) -> dict[str, str]:
    return agent_headers(database_url, "jane", "agent", "Jane")


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What reached the ticket service; it then answers "temporal is unavailable" (503)."""
    calls: list[dict[str, Any]] = []

    async def create(_: Tickets, body: TicketCreate, files: Any = (), **__: object) -> None:
        calls.append({"body": body, "files": files})
        raise Unavailable("temporal")

    async def command(_: Tickets, request: CommandRequest) -> None:
        calls.append({"request": request, "files": request.files})
        raise Unavailable("temporal")

    monkeypatch.setattr(Tickets, "create", create)
    monkeypatch.setattr(Tickets, "command", command)
    return calls


def stored_blobs(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"]


def test_a_form_reads_as_the_json_body_and_its_files_are_stored(
    client: TestClient, sent: list[dict[str, Any]], blob_dir: Path
) -> None:
    pdf, png = b"%PDF-1.7 report", b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    files = [
        ("files", ("C:\\Users\\anna\\report.pdf", pdf, "application/pdf")),
        ("files", ("../shot\u202e.png", png, "image/png; x=1")),
    ]
    assert client.post(TICKETS, data=form(TICKET), files=files).status_code == 503
    payload = {"payload": json.dumps(TICKET)}
    assert client.post(TICKETS, data=payload, files=files).status_code == 503
    as_json = client.post(TICKETS, json=TICKET)
    assert as_json.status_code == 503, as_json.text
    by_fields, by_payload, by_json = sent
    assert by_fields["body"] == by_payload["body"] == by_json["body"] == TicketCreate(**TICKET)
    assert by_json["files"] == ()
    names = [(f.name, f.content_type, f.blob.size) for f in by_fields["files"]]
    assert names == [("report.pdf", "application/pdf", len(pdf)), ("shot.png", "image/png", 264)]
    digests = sorted(p.name for p in stored_blobs(blob_dir))
    assert digests == sorted(hashlib.sha256(c).hexdigest() for c in (pdf, png))
    assert by_fields["files"] == by_payload["files"]  # the same files, stored once


def test_a_payload_part_may_be_a_file_part(client: TestClient, sent: list[dict[str, Any]]) -> None:
    parts = [("payload", ("body.json", json.dumps(TICKET).encode(), "application/json"))]
    assert client.post(TICKETS, files=parts).status_code == 503
    assert sent[0]["body"] == TicketCreate(**TICKET) and sent[0]["files"] == ()


def test_bad_forms_are_refused_like_bad_json_and_store_nothing(
    client: TestClient, sent: list[dict[str, Any]], blob_dir: Path
) -> None:
    one = [("files", ("a.txt", b"a", "text/plain"))]
    cases: list[tuple[dict[str, str], list[Any], int, list[Any]]] = [
        ({**form(TICKET), "subject": "x" * 201}, one, 422, ["body", "subject"]),
        ({**form(TICKET), "surprise": "1"}, one, 422, ["body", "surprise"]),
        ({**form(TICKET), "requester": "{not json"}, one, 422, ["body", "requester", 1]),
        ({**form(TICKET), "payload": json.dumps(TICKET)}, one, 422, ["body", "payload"]),
        ({"payload": "[1, 2]"}, one, 422, ["body"]),
        ({k: v for k, v in form(TICKET).items() if k != "message"}, one, 422, ["body", "message"]),
        (form(TICKET), [("files", (None, b"not a file"))], 422, ["body", "files"]),
    ]
    for data, files, status, loc in cases:
        response = client.post(TICKETS, data=data, files=files)
        assert response.status_code == status, (data, response.text)
        assert response.json()["detail"][0]["loc"] == loc, response.text
    json_loc = client.post(TICKETS, json={**TICKET, "subject": "x" * 201}).json()["detail"][0]
    form_loc = client.post(TICKETS, data={**form(TICKET), "subject": "x" * 201}, files=one)
    assert form_loc.json()["detail"][0]["loc"] == json_loc["loc"]
    no_boundary = client.post(
        TICKETS, content=b"--x\r\n", headers={"Content-Type": "multipart/form-data"}
    )
    assert no_boundary.status_code == 400, no_boundary.text
    assert sent == [] and stored_blobs(blob_dir) == []


def test_too_many_files_is_422_and_a_file_too_large_is_413(
    client: TestClient, sent: list[dict[str, Any]], blob_dir: Path
) -> None:
    three = [("files", (f"{i}.txt", b"x", "text/plain")) for i in range(3)]
    many = client.post(TICKETS, data=form(TICKET), files=three)
    assert many.status_code == 422, many.text
    assert "at most 2 files" in many.json()["detail"][0]["msg"]
    big = [("files", ("big.bin", b"x" * (FILE_LIMIT + 1), "application/octet-stream"))]
    large = client.post(TICKETS, data=form(TICKET), files=big)
    assert large.status_code == 413, large.text
    assert "'big.bin' is larger than 1000 bytes" in large.json()["detail"]
    assert sent == [] and stored_blobs(blob_dir) == []
    exact = [("files", ("ok.bin", b"x" * FILE_LIMIT, "application/octet-stream"))]
    assert client.post(TICKETS, data=form(TICKET), files=exact).status_code == 503


def test_only_uploads_to_the_upload_routes_may_exceed_max_body_bytes(
    client: TestClient, sent: list[dict[str, Any]], agent: dict[str, str]
) -> None:
    # An upload larger than MAX_BODY_BYTES but within the attachment limits is taken…
    two = [("files", (f"{i}.bin", b"x" * FILE_LIMIT, "application/octet-stream")) for i in "ab"]
    padded = {**form(TICKET), "message": "m" * 2500}
    assert client.post(TICKETS, data=padded, files=two).status_code == 503
    text = {"message": "m" * 2500}
    note = client.post(f"{TICKETS}/123456/notes", data=text, files=two, headers=agent)
    assert note.status_code == 503, note.text
    assert len(sent) == 2
    # … JSON bodies keep their limit on the same routes, and other routes take no upload.
    huge = {**TICKET, "message": "m" * (BODY_LIMIT + 1)}
    assert client.post(TICKETS, json=huge).status_code == 413
    assign = client.post(
        f"{TICKETS}/123456/assign", data={"agent": "jane", "pad": "p" * BODY_LIMIT}, headers=agent
    )
    assert assign.status_code == 413
    # Past the upload allowance: refused by its Content-Length, or as it streams without one.
    over = [("files", ("c.bin", b"x" * (UPLOAD_LIMIT + 1), "application/octet-stream"))]
    assert client.post(TICKETS, data=form(TICKET), files=over).status_code == 413
    boundary = "b0undary"
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="s.bin"'
    body = (
        f"{head}\r\n\r\n".encode() + b"x" * (UPLOAD_LIMIT + 10) + f"\r\n--{boundary}--\r\n".encode()
    )

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    streamed = client.post(
        TICKETS,
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert streamed.status_code == 413, streamed.text
    assert len(sent) == 2


def test_uploads_check_credentials_before_the_body(
    client: TestClient, sent: list[dict[str, Any]], agent: dict[str, str], blob_dir: Path
) -> None:
    one = [("files", ("a.txt", b"a", "text/plain"))]
    reply = f"{TICKETS}/123456/replies"
    for path, headers, expected in [
        (reply, {}, 401),
        (reply, {"Authorization": "Bearer not-this-tickets-token"}, 401),
        (f"{TICKETS}/123456/notes", {}, 401),
    ]:
        response = client.post(path, data={"message": "hi"}, files=one, headers=headers)
        assert response.status_code == expected, response.text
    assert sent == [] and stored_blobs(blob_dir) == []
    response = client.post(reply, data={"message": "hi"}, files=one, headers=agent)
    assert response.status_code == 503
    [call] = sent
    assert call["request"].args == MessageBody(message="hi")
    assert [f.name for f in call["files"]] == ["a.txt"]


def test_the_openapi_document_shows_both_media_types(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path, model in [
        (TICKETS, "TicketCreate"),
        (f"{TICKETS}/{{number}}/replies", "MessageBody"),
        (f"{TICKETS}/{{number}}/notes", "MessageBody"),
    ]:
        content = schema["paths"][path]["post"]["requestBody"]["content"]
        assert content["application/json"]["schema"]["$ref"].endswith(f"/{model}")
        upload = content["multipart/form-data"]
        assert upload["encoding"]["payload"] == {"contentType": "application/json"}
        properties = schema["components"]["schemas"][f"{model}Upload"]["properties"]
        assert properties["files"]["maxItems"] == 2
        assert "message" in properties
    assert schema["paths"][TICKETS]["post"]["requestBody"]["content"]["multipart/form-data"][
        "encoding"
    ]["requester"] == {"contentType": "application/json"}
    download = schema["paths"][f"{TICKETS}/{{number}}/attachments/{{attachment_id}}"]["get"]
    assert "*/*" in download["responses"]["200"]["content"]
