"""The external-reference parts of the ticket API over HTTP, on SQLite and PostgreSQL, where
no Temporal server is needed: who may create with references, what a reference may hold, the
list filter's format, and links to tickets that do not exist. (The rest is end to end.)"""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.tickets.inputs import TicketCreate
from tests.builders import bearer, create_agents, person, ticket_body

TICKETS = "/api/v1/tickets"
JIRA = {"system": "jira", "id": "OPS-1", "url": "https://jira.example.com/browse/OPS-1"}
TICKET = ticket_body(external_refs=[JIRA])


@pytest.fixture
def tokens(database_url: str) -> dict[str, dict[str, str]]:
    made = create_agents(database_url, person("jane", "agent"), person("vera", "viewer"))
    return {"jane": bearer(made[0]), "vera": bearer(made[1])}


def test_creating_with_references_needs_a_writing_agent(
    client: TestClient, tokens: dict[str, dict[str, str]], opened: list[TicketCreate]
) -> None:
    assert client.post(TICKETS, json=TICKET).status_code == 401
    requester = {"Authorization": "Bearer not-an-agent-token"}
    assert client.post(TICKETS, json=TICKET, headers=requester).status_code == 401
    assert client.post(TICKETS, json=TICKET, headers=tokens["vera"]).status_code == 403
    assert opened == []
    response = client.post(TICKETS, json=TICKET, headers=tokens["jane"])
    assert response.status_code == 503, response.text  # past validation and auth
    [body] = opened
    assert [ref.label for ref in body.refs()] == ["jira:OPS-1"]
    # Without references the door stays open to anyone, whatever header comes along.
    plain = {key: value for key, value in TICKET.items() if key != "external_refs"}
    response = client.post(TICKETS, json=plain, headers={"Authorization": "Basic eDp5"})
    assert response.status_code == 503, response.text


@pytest.mark.parametrize(
    ("ref", "field", "reason"),
    [
        ({"system": "JIRA", "id": "1"}, "system", "lower-case letters"),
        ({"system": "jira", "id": "a\x00b"}, "id", "U+0000 (NUL)"),
        ({"system": "jira", "id": "a\ud800"}, "id", "lone UTF-16 surrogate"),
        ({"system": "jira", "id": "x" * 201}, "id", "1 to 200 characters"),
        ({"system": "jira", "id": "1", "url": "file:///etc/passwd"}, "url", "http:// or https://"),
        ({"system": "jira", "id": "1", "extra": 1}, "extra", "Extra inputs are not permitted"),
    ],
)
def test_an_invalid_reference_is_answered_422_with_the_reason(
    client: TestClient,
    tokens: dict[str, dict[str, str]],
    opened: list[TicketCreate],
    ref: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    # Written with \u escapes, as a client may send a lone surrogate.
    body = json.dumps({**TICKET, "external_refs": [ref]}).encode("ascii")
    headers = {"content-type": "application/json", **tokens["jane"]}
    response = client.post(TICKETS, content=body, headers=headers)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "external_refs", 0, field]
    assert reason in error["msg"]
    assert opened == []


def test_more_than_twenty_references_or_a_bad_policy_is_422(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    many = [{"system": "jira", "id": f"OPS-{n}"} for n in range(21)]
    response = client.post(TICKETS, json={**TICKET, "external_refs": many}, headers=tokens["jane"])
    assert response.status_code == 422 and "at most 20" in response.text
    bad = {**TICKET, "on_duplicate_external_ref": "merge"}
    assert client.post(TICKETS, json=bad, headers=tokens["jane"]).status_code == 422


@pytest.mark.parametrize("external", ["OPS-1", "Jira:OPS-1", "jira:", "jira:\x07"])
def test_the_list_filter_takes_system_colon_id(
    client: TestClient, tokens: dict[str, dict[str, str]], external: str
) -> None:
    response = client.get(TICKETS, params={"external": external}, headers=tokens["jane"])
    assert response.status_code == 422, response.text
    assert "system:id" in response.text or "control" in response.text


def test_links_need_a_writing_agent_and_a_ticket_that_exists(
    client: TestClient, tokens: dict[str, dict[str, str]]
) -> None:
    links = f"{TICKETS}/100000/links"
    assert client.post(links, json=JIRA).status_code == 401
    assert client.post(links, json=JIRA, headers=tokens["vera"]).status_code == 403
    response = client.post(links, json=JIRA, headers=tokens["jane"])
    assert response.status_code == 404 and "ticket 100000" in response.text
    response = client.post(links, json={"system": "jira"}, headers=tokens["jane"])
    assert response.status_code == 422
    assert client.delete(f"{links}/jira/OPS-1").status_code == 401
    response = client.delete(f"{links}/Jira/OPS-1", headers=tokens["jane"])
    assert response.status_code == 422
    response = client.delete(f"{links}/jira/%20OPS-1", headers=tokens["jane"])
    assert response.status_code == 422 and "begin or end with a space" in response.text
