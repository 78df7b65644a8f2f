"""The admin API's input contract over HTTP, on SQLite and PostgreSQL: names follow the same
text rules as tickets, addresses the same e-mail rule, and out-of-range numbers (a month of
9999999999999999999) are answered 422, never 500."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.builders import agent_headers, create_entity, office_hours_body, sla_plan_body

API = "/api/v1/admin"
BAD_NAMES = [
    ("Support\x00", "U+0000 (NUL)"),
    ("Support\r\nBcc: evil@example.com", "single line"),
    ("Support\x0b", "line break, U+000B"),
    ("Support\u2028", "line break, U+2028"),
    ("Support \ud800", "lone UTF-16 surrogate (U+D800)"),
    ("Support\x1b[0m", "U+001B (escape)"),
    ("n" * 201, "at most 200 characters"),
]


@pytest.fixture
def admin(database_url: str) -> dict[str, str]:
    return agent_headers(database_url, "root", "admin", "Root")


def send(client: TestClient, method: str, url: str, body: Any, admin: dict[str, str]) -> Any:
    """JSON written with \\u escapes, so that a lone surrogate can be sent."""
    headers = {**admin, "content-type": "application/json"}
    return client.request(method, url, content=json.dumps(body).encode("ascii"), headers=headers)


def seed(client: TestClient, admin: dict[str, str]) -> dict[str, dict[str, Any]]:
    """One of each kind; returns a fresh, valid body per kind (handle "fresh")."""
    create_entity(client, admin, "agents", {**agent("jane"), "role": "agent"})
    create_entity(client, admin, "teams", {"handle": "ob", "name": "OB", "lead": "jane"})
    create_entity(client, admin, "departments", {"handle": "ob", "name": "OB", "manager": "jane"})
    create_entity(client, admin, "sla-plans", sla_plan_body())
    create_entity(client, admin, "schedules", office_hours_body())
    topic = {"handle": "ob", "name": "OB", "department": "ob", "sla_plan": "default"}
    create_entity(client, admin, "help-topics", topic)
    return {
        "agents": {**agent("fresh"), "role": "agent"},
        "teams": {"handle": "fresh", "name": "Fresh", "lead": "jane"},
        "departments": {"handle": "fresh", "name": "Fresh", "manager": "jane"},
        "sla-plans": sla_plan_body(handle="fresh"),
        "schedules": office_hours_body(handle="fresh"),
        "help-topics": {**topic, "handle": "fresh"},
    }


def agent(handle: str) -> dict[str, Any]:
    return {"handle": handle, "name": handle.title(), "email": f"{handle}@example.com"}


def test_bad_names_are_422_on_create_and_patch_of_every_kind(
    client: TestClient, admin: dict[str, str]
) -> None:
    fresh = seed(client, admin)
    for kind, good in fresh.items():
        existing = "jane" if kind == "agents" else "office" if kind == "schedules" else "ob"
        if kind == "sla-plans":
            existing = "default"
        for name, reason in BAD_NAMES:
            for method, url in [("POST", f"{API}/{kind}"), ("PATCH", f"{API}/{kind}/{existing}")]:
                body = {**good, "name": name} if method == "POST" else {"name": name}
                response = send(client, method, url, body, admin)
                assert response.status_code == 422, (kind, method, name, response.text)
                [error] = response.json()["detail"]
                assert error["loc"] == ["body", "name"] and reason in error["msg"], error
        assert client.get(f"{API}/{kind}/fresh", headers=admin).status_code == 404


def test_bad_agent_addresses_are_422(client: TestClient, admin: dict[str, str]) -> None:
    for email, reason in [
        ("a..b@example.com", "two in a row"),
        ('a"b@example.com', "not a valid e-mail address"),
        ("a@localhost", "not a valid e-mail address"),
        ("a" * 188 + "@example.com", "at most 64 bytes"),
        ("a\x00@example.com", "U+0000 (NUL)"),
        ("a@example.com\r\nBcc: evil@example.com", "single line"),
        ("a\udc00@example.com", "lone UTF-16 surrogate"),
    ]:
        body = {**agent("ada"), "email": email, "role": "agent"}
        response = send(client, "POST", f"{API}/agents", body, admin)
        assert response.status_code == 422, (email, response.text)
        assert reason in response.json()["detail"][0]["msg"], response.text
        response = send(client, "PATCH", f"{API}/agents/root", {"email": email}, admin)
        assert response.status_code == 422, (email, response.text)


def test_lone_surrogates_outside_text_fields_are_422_not_500(
    client: TestClient, admin: dict[str, str]
) -> None:
    for body in [
        {**agent("ada"), "role": "agent\ud800"},
        {**agent("ada"), "role": "agent", "\ud800": 1},
        {**agent("ada\ud800"), "role": "agent"},
        "\ud800",
    ]:
        response = send(client, "POST", f"{API}/agents", body, admin)
        assert response.status_code == 422, (body, response.text)
    schedule = office_hours_body(timezone="Europe/\ud800")
    assert send(client, "POST", f"{API}/schedules", schedule, admin).status_code == 422


def test_international_names_and_addresses_round_trip(
    client: TestClient, admin: dict[str, str]
) -> None:
    body = {
        "handle": "juergen",
        "name": "Jürgen Müller-Ødegård 山田 \U0001f600",
        "email": "jürgen@bücher.example",
        "role": "agent",
    }
    assert create_entity(client, admin, "agents", body)["email"] == "jürgen@bücher.example"
    read = client.get(f"{API}/agents/juergen", headers=admin).json()
    assert (read["name"], read["email"]) == (body["name"], body["email"])
    team = create_entity(
        client, admin, "teams", {"handle": "t", "name": "Équipe ß", "lead": "juergen"}
    )
    assert team["name"] == "Équipe ß"


@pytest.mark.parametrize(
    ("holiday", "reason"),
    [
        ({"month": 9999999999999999999, "day": 1}, "month must be from 1 to 12"),
        ({"month": "9999999999999999999", "day": 1}, "month must be from 1 to 12"),
        ({"month": -9999999999999999999, "day": 1}, "month must be from 1 to 12"),
        ({"month": 13, "day": 1}, "month must be from 1 to 12"),
        ({"month": 0, "day": 1}, "month must be from 1 to 12"),
        ({"month": 1, "day": 9999999999999999999}, "day must be from 1 to 31"),
        ({"month": 1, "day": 0}, "day must be from 1 to 31"),
        ({"month": 1, "day": 32}, "day must be from 1 to 31"),
        ({"month": 2, "day": 30}, "day is out of range"),
        ({"month": 1e19, "day": 1}, "integer"),
    ],
)
def test_out_of_range_yearly_holidays_are_422(
    client: TestClient, admin: dict[str, str], holiday: dict[str, Any], reason: str
) -> None:
    body = office_hours_body(yearly_holidays=[holiday])
    response = client.post(f"{API}/schedules", json=body, headers=admin)
    assert response.status_code == 422 and reason in response.text, response.text
    create_entity(client, admin, "schedules", office_hours_body())
    patch = {"yearly_holidays": [holiday]}
    response = client.patch(f"{API}/schedules/office", json=patch, headers=admin)
    assert response.status_code == 422 and reason in response.text, response.text


def test_out_of_range_numbers_elsewhere_are_422(client: TestClient, admin: dict[str, str]) -> None:
    create_entity(client, admin, "agents", {**agent("jane"), "role": "agent"})
    create_entity(client, admin, "teams", {"handle": "ob", "name": "OB", "lead": "jane"})
    huge = 9999999999999999999
    step = {"name": "L1", "after_breach": "PT0S"}
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("schedules", office_hours_body(hours={str(huge): []}), "weekday must be 0"),
        ("schedules", office_hours_body(holidays=[huge]), "valid date"),
        ("sla-plans", sla_plan_body(first_response="P999999999D"), "at most P10Y"),
        ("sla-plans", sla_plan_body(auto_close="P3651D"), "at most P10Y"),
        ("sla-plans", sla_plan_body(resolution=f"PT{huge}S"), "positive duration"),
        (
            "sla-plans",
            sla_plan_body(ladders={"resolution": {"steps": [{"name": "w", "at_percent": huge}]}}),
            "less than or equal to 99",
        ),
        (
            "sla-plans",
            sla_plan_body(ladders={"resolution": {"steps": [step], "repeat_max": huge}}),
            "less than or equal to 100",
        ),
        (
            "sla-plans",
            sla_plan_body(ladders={"resolution": {"steps": [{**step, "after_breach": "P9999D"}]}}),
            "at most P10Y",
        ),
        (
            "sla-plans",
            sla_plan_body(ladders={"resolution": {"steps": [step], "repeat_every": "P9999D"}}),
            "at most P10Y",
        ),
    ]
    for kind, body, reason in cases:
        response = client.post(f"{API}/{kind}", json=body, headers=admin)
        assert response.status_code == 422 and reason in response.text, (body, response.text)
    create_entity(client, admin, "sla-plans", sla_plan_body(auto_close="P3650D"))


def test_ladder_step_names_follow_the_name_rules(client: TestClient, admin: dict[str, str]) -> None:
    for name, reason in [*BAD_NAMES, ("   ", "may not be empty")]:
        ladders = {"resolution": {"steps": [{"name": name, "after_breach": "PT0S"}]}}
        response = send(client, "POST", f"{API}/sla-plans", sla_plan_body(ladders=ladders), admin)
        assert response.status_code == 422, (name, response.text)
        assert "step name" in response.text and reason in response.text, response.text
