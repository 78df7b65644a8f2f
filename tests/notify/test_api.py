"""The HTTP surface: a ticket's notifications listed, and an unreachable database."""

import httpx
import pytest

from shared.settings import Settings
from tests.notify.builders import notification, queue
from tests.notify.conftest import AUTH, MailSink, running_server

URL = "/api/v1/notifications"


def test_list_by_ticket_is_oldest_first_and_filters_by_kind(
    client: httpx.Client, settings: Settings
) -> None:
    # Already sent: the service's own delivery loop leaves them as they are.
    rows = [
        notification(ticket="200002", kind=kind, status="sent", attempts=1)
        for kind in ["ticket_received", "response", "resolved"]
    ]
    queue(settings.database_url, *rows, notification(ticket="300003", status="sent"))

    listed = client.get(URL, params={"ticket": "200002"})
    assert listed.status_code == 200
    assert [item["idempotency_key"] for item in listed.json()] == [
        row["idempotency_key"] for row in rows
    ]
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


@pytest.mark.parametrize("notify_db_url", ["sqlite"], indirect=True)
def test_notifications_can_no_longer_be_posted(client: httpx.Client, sink: MailSink) -> None:
    """The workflows queue notifications in the database; notify takes none over HTTP."""
    response = client.post(URL, json={"ticket": "100001"})
    assert response.status_code == 405
    assert sink.mails() == []


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
        listed = http.get(URL, params={"ticket": "1"})
        assert listed.status_code == 503
        assert listed.json() == {"detail": "database is unavailable"}
    assert sink.mails() == []


@pytest.mark.parametrize("ticket", ["V\u00ca\x1e\x00\u00cbr", "12a", "", "1" * 17])
def test_a_ticket_that_is_no_number_is_refused_422(client: httpx.Client, ticket: str) -> None:
    """A NUL, say, would reach PostgreSQL, which refuses it (a 500 before)."""
    answer = client.get(URL, params={"ticket": ticket})
    assert answer.status_code == 422, answer.text
