"""A help topic's texts for requesters (description, instructions) and its active flag, over
the admin API on SQLite and PostgreSQL: round trip, the text rules, and new tickets refused
under an inactive topic as under an unknown one."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.reference.schemas import DESCRIPTION_MAX, INSTRUCTIONS_MAX
from tests.builders import agent_headers, create_entity, sla_plan_body, ticket_body

API = "/api/v1/admin/help-topics"
TOPIC = {"handle": "banking", "name": "Online banking", "department": "ob", "sla_plan": "default"}
DESCRIPTION = "Online banking down, slow or showing errors."
INSTRUCTIONS = "The time it started.\nThe error shown, word for word."


@pytest.fixture
def admin(client: TestClient, database_url: str) -> dict[str, str]:
    """An admin, and what a topic names: an agent, a department and an SLA plan."""
    headers = agent_headers(database_url, "root", "admin", "Root")
    agent = {"handle": "jane", "name": "Jane", "email": "jane@example.com", "role": "agent"}
    create_entity(client, headers, "agents", agent)
    create_entity(client, headers, "departments", {"handle": "ob", "name": "OB", "manager": "jane"})
    create_entity(client, headers, "sla-plans", sla_plan_body())
    return headers


def send(client: TestClient, method: str, url: str, body: Any, admin: dict[str, str]) -> Any:
    """JSON written with \\u escapes, so that a lone surrogate can be sent."""
    headers = {**admin, "content-type": "application/json"}
    return client.request(method, url, content=json.dumps(body).encode("ascii"), headers=headers)


def test_a_topic_without_texts_is_active_and_has_none(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = create_entity(client, admin, "help-topics", TOPIC)
    assert (created["description"], created["instructions"], created["active"]) == (
        None,
        None,
        True,
    )


def test_texts_and_active_round_trip_through_create_list_get_and_patch(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {**TOPIC, "description": f"  {DESCRIPTION} ", "instructions": INSTRUCTIONS}
    created = create_entity(client, admin, "help-topics", body)
    assert (created["description"], created["instructions"]) == (DESCRIPTION, INSTRUCTIONS)
    assert client.get(f"{API}/banking", headers=admin).json() == created
    assert client.get(API, headers=admin).json()["items"] == [created]

    r = client.patch(f"{API}/banking", json={"active": False}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {**created, "active": False}  # the texts stay as they were
    r = client.patch(
        f"{API}/banking",
        json={"description": "Banking.", "instructions": None, "active": True},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    read = client.get(f"{API}/banking", headers=admin).json()
    assert (read["description"], read["instructions"], read["active"]) == ("Banking.", None, True)
    r = client.patch(f"{API}/banking", json={"description": None}, headers=admin)
    assert r.status_code == 200 and r.json()["description"] is None


def test_a_topic_may_be_created_inactive(client: TestClient, admin: dict[str, str]) -> None:
    assert (
        create_entity(client, admin, "help-topics", {**TOPIC, "active": False})["active"] is False
    )


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("description", "Banking\x00", "U+0000 (NUL)"),
        ("description", "Banking\ndown", "single line"),
        ("description", "Banking\u2028down", "line break, U+2028"),
        ("description", "Banking \ud800", "lone UTF-16 surrogate"),
        ("description", "Banking\x1b[0m", "U+001B (escape)"),
        ("description", "d" * (DESCRIPTION_MAX + 1), f"at most {DESCRIPTION_MAX} characters"),
        ("description", "   ", "at least 1 character"),
        ("description", 7, "valid string"),
        ("instructions", "The time\x00", "U+0000 (NUL)"),
        ("instructions", "The time\x0c", "U+000C (form feed)"),
        ("instructions", "The time \udc00", "lone UTF-16 surrogate"),
        ("instructions", "i" * (INSTRUCTIONS_MAX + 1), f"at most {INSTRUCTIONS_MAX} characters"),
        ("instructions", "", "at least 1 character"),
        ("active", "perhaps", "valid boolean"),
    ],
)
def test_bad_texts_are_422_on_create_and_patch(
    client: TestClient, admin: dict[str, str], field: str, value: Any, reason: str
) -> None:
    create_entity(client, admin, "help-topics", TOPIC)
    for method, url, body in [
        ("POST", API, {**TOPIC, "handle": "fresh", field: value}),
        ("PATCH", f"{API}/banking", {field: value}),
    ]:
        response = send(client, method, url, body, admin)
        assert response.status_code == 422, (method, response.text)
        [error] = response.json()["detail"]
        assert error["loc"] == ["body", field] and reason in error["msg"], error
    assert client.get(f"{API}/fresh", headers=admin).status_code == 404
    read = client.get(f"{API}/banking", headers=admin).json()
    assert (read["description"], read["instructions"], read["active"]) == (None, None, True)


def test_instructions_may_hold_lines_and_tabs_and_active_may_not_be_null(
    client: TestClient, admin: dict[str, str]
) -> None:
    text = "When:\r\n\tthe time it started\nWhat: the error shown"
    created = create_entity(client, admin, "help-topics", {**TOPIC, "instructions": text})
    assert created["instructions"] == text
    r = client.patch(f"{API}/banking", json={"active": None}, headers=admin)
    assert r.status_code == 422 and "may not be null: active" in r.text, r.text


def test_a_new_ticket_under_an_inactive_topic_is_refused_as_under_an_unknown_one(
    client: TestClient, admin: dict[str, str]
) -> None:
    create_entity(client, admin, "help-topics", {**TOPIC, "handle": "general"})
    unknown = client.post("/api/v1/tickets", json=ticket_body(help_topic="nope"))
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "help topic 'nope' not found"}
    r = client.patch(f"{API}/general", json={"active": False}, headers=admin)
    assert r.status_code == 200, r.text
    refused = client.post("/api/v1/tickets", json=ticket_body())
    assert refused.status_code == 404
    assert refused.json() == {"detail": "help topic 'general' not found"}


def test_a_retried_create_the_topic_took_while_active_is_not_refused(
    client: TestClient, admin: dict[str, str]
) -> None:
    """The key was claimed while the topic was active: its retry still answers as the first
    create did (its ticket; 503 where no Temporal server runs), while a new create under the
    topic is refused."""
    create_entity(client, admin, "help-topics", {**TOPIC, "handle": "general"})
    key = {"Idempotency-Key": "retry-after-deactivation"}
    first = client.post("/api/v1/tickets", json=ticket_body(), headers=key)
    assert first.status_code in (201, 503), first.text
    client.patch(f"{API}/general", json={"active": False}, headers=admin)
    retry = client.post("/api/v1/tickets", json=ticket_body(), headers=key)
    assert retry.status_code == first.status_code, retry.text
    if first.status_code == 201:
        assert retry.json()["number"] == first.json()["number"]
    other = {"Idempotency-Key": "a-new-create"}
    assert client.post("/api/v1/tickets", json=ticket_body(), headers=other).status_code == 404
