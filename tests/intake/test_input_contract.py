"""The ticket API's input contract over HTTP, on SQLite and PostgreSQL: invalid Unicode, NUL
and other control characters, line breaks in single-line fields, over-long subjects and bad
addresses are answered 422 with the reason (never a 500); international input is accepted."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.tickets.inputs import TicketCreate
from tests import builders

TICKETS = "/api/v1/tickets"


@pytest.fixture
def agent_headers(database_url: str) -> dict[str, str]:
    return builders.agent_headers(database_url, "jane", "agent", "Jane")


def post_json(
    client: TestClient, url: str, body: Any, headers: dict[str, str] | None = None
) -> Any:
    """Post `body` as JSON written with \\u escapes, as a client may send a lone surrogate."""
    return client.post(
        url,
        content=json.dumps(body).encode("ascii"),
        headers={"content-type": "application/json", **(headers or {})},
    )


def with_value(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    body = builders.ticket_body()
    target = body
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return body


BAD_TICKETS: list[tuple[tuple[str, ...], Any, str]] = [
    (("subject",), "Printer \ud800 jams", "lone UTF-16 surrogate (U+D800)"),
    (("message",), "It jams \udfff", "lone UTF-16 surrogate (U+DFFF)"),
    (("requester", "name"), "Anna\ud83d", "lone UTF-16 surrogate (U+D83D)"),
    (("requester", "email"), "anna\ud800@example.com", "lone UTF-16 surrogate"),
    (("subject",), "Printer\x00", "U+0000 (NUL)"),
    (("message",), "It jams\x00", "U+0000 (NUL)"),
    (("requester", "name"), "Anna\x00", "U+0000 (NUL)"),
    (("message",), "bell \x07", "control character U+0007"),
    (("message",), "escape \x1b[31m red", "U+001B (escape)"),
    (("message",), "vertical \x0b tab", "U+000B (vertical tab)"),
    (("message",), "C1 \x9b", "control character U+009B"),
    (("subject",), "Hello\r\nBcc: evil@example.com", "single line"),
    (("subject",), "Hello\nX-Evil: 1", "line break, U+000A"),
    (("subject",), "Hello\x0bthere", "line break, U+000B"),
    (("subject",), "Hello\x0cthere", "line break, U+000C"),
    (("subject",), "Hello\x85there", "line break, U+0085"),
    (("subject",), "Hello\u2028there", "line break, U+2028"),
    (("subject",), "Hello\u2029there", "line break, U+2029"),
    (("subject",), "Hello\tthere", "U+0009 (tab)"),
    (("requester", "name"), "Anna\r\nBcc: evil@example.com", "single line"),
    (("subject",), "x" * 201, "at most 200 characters"),
    (("subject",), "s" * 270, "at most 200 characters"),
    (("message",), "m" * 20_001, "at most 20000 characters"),
    (("requester", "name"), "n" * 201, "at most 200 characters"),
    (("requester", "email"), "a..b@example.com", "not a valid e-mail address"),
    (("requester", "email"), 'a"b@example.com', "not a valid e-mail address"),
    (("requester", "email"), '"a b"@example.com', "not a valid e-mail address"),
    (("requester", "email"), "a@localhost", "not a valid e-mail address"),
    (("requester", "email"), "x" * 65 + "@example.com", "at most 64 bytes"),
    (("requester", "email"), "a" * 188 + "@example.com", "at most 64 bytes"),
    (("requester", "email"), "a@" + "b" * 250 + ".com", "at most 254 characters"),
    (("help_topic",), "general\ud800", "should match pattern"),
    (("priority",), "high\ud800", "Input should be"),
]


def test_bad_ticket_input_is_answered_422_with_the_reason(client: TestClient) -> None:
    for path, value, reason in BAD_TICKETS:
        response = post_json(client, TICKETS, with_value(path, value))
        assert response.status_code == 422, (path, value, response.text)
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", *path], (path, value, error)
        assert reason in error["msg"], (path, value, error)


def test_lone_surrogates_in_a_key_or_as_the_body_are_422(client: TestClient) -> None:
    for body in ({**builders.ticket_body(), "\ud800": 1}, "\ud800", ["\udc00"]):
        response = post_json(client, TICKETS, body)
        assert response.status_code == 422, response.text


def test_international_ticket_input_is_accepted(
    client: TestClient, opened: list[TicketCreate]
) -> None:
    body = {
        "requester": {"name": "  Jürgen Müller-Ødegård 山田  ", "email": "jürgen@example.com"},
        "subject": "Drucker klemmt \U0001f5a8 " + "ü" * 150,
        "message": "Schritte:\n\t1. öffnen\r\n\t2. schließen\n\n— Jürgen",
        "help_topic": "general",
    }
    response = client.post(TICKETS, json=body)
    assert response.status_code == 503, response.text
    [ticket] = opened
    assert ticket.requester.name == "Jürgen Müller-Ødegård 山田"
    assert ticket.requester.email == "jürgen@example.com"
    assert ticket.subject == body["subject"]
    # Inner newlines, tabs and carriage returns of a message are kept as written.
    assert ticket.message == body["message"]


@pytest.mark.parametrize(
    "email", ["user@bücher.example", "日本語@例え.テスト", "o'brien+desk@mail.example.co.uk"]
)
def test_international_addresses_are_accepted(
    client: TestClient, opened: list[TicketCreate], email: str
) -> None:
    response = client.post(TICKETS, json=with_value(("requester", "email"), email))
    assert response.status_code == 503, response.text
    assert opened[0].requester.email == email


def test_a_subject_of_the_maximum_length_is_accepted(
    client: TestClient, opened: list[TicketCreate]
) -> None:
    response = client.post(TICKETS, json=with_value(("subject",), "s" * 200))
    assert response.status_code == 503, response.text
    assert opened[0].subject == "s" * 200


@pytest.mark.parametrize("action", ["replies", "notes", "resolve"])
def test_bad_message_bodies_of_commands_are_422(
    client: TestClient, agent_headers: dict[str, str], action: str
) -> None:
    field = "resolution" if action == "resolve" else "message"
    url = f"{TICKETS}/100001/{action}"
    for value, reason in [
        ("done\x00", "U+0000 (NUL)"),
        ("done \ud800", "lone UTF-16 surrogate"),
        ("page\x0cbreak", "U+000C (form feed)"),
        ("", "at least 1 character"),
        ("x" * 20_001, "at most 20000 characters"),
    ]:
        response = post_json(client, url, {field: value}, agent_headers)
        assert response.status_code == 422, (action, value, response.text)
        [error] = response.json()["detail"]
        assert reason in error["msg"], (action, value, error)
