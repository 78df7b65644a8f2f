"""The HTTP surface: validation, size limits, listing, health and an unreachable database."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shared.settings import Settings
from tests.notify.conftest import AUTH, MailSink, running_server
from tests.notify.payloads import notification

URL = "/api/v1/notifications"


@pytest.mark.parametrize(
    "override",
    [
        {"kind": "birthday"},
        {"channel": "pigeon"},
        {"recipient": {"name": "Alice", "email": "not-an-address"}},
        {"recipient": {"name": "Alice", "email": "a..b@example.com"}},
        {"recipient": {"name": "Alice\r\nBcc: evil@example.com", "email": "a@example.com"}},
        {"subject": "Hello\nBcc: evil@example.com"},
        {"subject": ""},
        {"idempotency_key": "has spaces in it"},
        {"idempotency_key": "k" * 201},
        {"ticket": None},
        {"unexpected": "field"},
    ],
)
def test_invalid_body_is_rejected_with_422(
    client: httpx.Client, sink: MailSink, override: dict[str, Any]
) -> None:
    response = client.post(URL, json=notification(**override))
    assert response.status_code == 422, response.text
    assert sink.mails() == []


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[]", b'{"idempotency_key": 1}'])
def test_malformed_json_is_rejected_with_422(client: httpx.Client, raw: bytes) -> None:
    response = client.post(URL, content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"\xff\xfe\x00"])
def test_undecodable_body_is_refused_not_crashed(client: httpx.Client, raw: bytes) -> None:
    # FastAPI answers some undecodable bytes with 400, others with 422: both are permanent
    # refusals for the workflow's activity, and neither is a 500.
    response = client.post(URL, content=raw, headers={"content-type": "application/json"})
    assert response.status_code in (400, 422)


def test_oversized_body_is_rejected_with_413(client: httpx.Client, sink: MailSink) -> None:
    response = client.post(URL, json=notification(body="x" * 5000))
    assert response.status_code == 413
    assert response.json() == {"detail": "request body too large"}
    assert sink.mails() == []


def test_oversized_chunked_body_without_length_is_rejected_with_413(
    client: httpx.Client,
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"body": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    response = client.post(URL, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_small_chunked_body_is_accepted(client: httpx.Client, sink: MailSink) -> None:
    raw = httpx.Request("POST", "/", json=notification()).read()
    response = client.post(
        URL, content=iter([raw[:10], raw[10:]]), headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert len(sink.mails()) == 1


def test_list_by_ticket_is_oldest_first_and_filters_by_kind(client: httpx.Client) -> None:
    keys = []
    for kind in ["ticket_received", "response", "resolved"]:
        payload = notification(ticket="200002", kind=kind, idempotency_key=f"200002:{kind}")
        assert client.post(URL, json=payload).status_code == 201
        keys.append(payload["idempotency_key"])
    assert client.post(URL, json=notification(ticket="300003")).status_code == 201

    listed = client.get(URL, params={"ticket": "200002"})
    assert listed.status_code == 200
    assert [item["idempotency_key"] for item in listed.json()] == keys
    first = listed.json()[0]
    assert set(first) == {
        "idempotency_key", "ticket", "kind", "recipient", "channel", "subject", "body",
        "status", "attempts", "created_at", "sent_at",
    }  # fmt: skip
    assert first["recipient"] == {"name": "Alice Customer", "email": "alice@example.com"}

    responses = client.get(URL, params={"ticket": "200002", "kind": "response"}).json()
    assert [item["kind"] for item in responses] == ["response"]
    assert client.get(URL, params={"ticket": "999999"}).json() == []


def test_list_with_unknown_kind_or_no_ticket_is_422(client: httpx.Client) -> None:
    assert client.get(URL, params={"ticket": "1", "kind": "nope"}).status_code == 422
    assert client.get(URL).status_code == 422


def test_healthz_reports_ok_with_a_database(client: httpx.Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}


@pytest.fixture
def settings_without_database(settings: Settings) -> Settings:
    # Port 1 on localhost refuses connections: a database that is down.
    return settings.model_copy(
        update={"database_url": "postgresql+psycopg2://postgres@127.0.0.1:1/none"}
    )


@pytest.mark.parametrize("notify_db_url", ["sqlite"], indirect=True)
def test_unreachable_database_answers_503(
    settings_without_database: Settings, sink: MailSink
) -> None:
    with (
        running_server(settings_without_database) as base_url,
        httpx.Client(base_url=base_url, headers=AUTH, timeout=30) as http,
    ):
        health = http.get("/healthz")
        assert health.status_code == 503
        assert health.json() == {
            "status": "unavailable",
            "checks": {"database": "down: OperationalError"},
        }
        posted = http.post(URL, json=notification())
        assert posted.status_code == 503
        assert posted.json() == {"detail": "database is unavailable"}
        assert http.get(URL, params={"ticket": "1"}).status_code == 503
    assert sink.mails() == []
