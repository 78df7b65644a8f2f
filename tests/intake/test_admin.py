"""The admin API over HTTP, on SQLite and PostgreSQL: auth, every kind's create/list/get/patch,
and bad input answered with 404, 409 or 422, never a 500."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.builders import (
    agent_headers,
    bearer,
    create_entity,
    office_hours_body,
    sla_plan_body,
)

API = "/api/v1/admin"
NINE_TO_FIVE = [{"start": "09:00", "end": "17:00"}]
KINDS = ["agents", "teams", "departments", "help-topics", "sla-plans", "schedules"]


@pytest.fixture
def admin(database_url: str) -> dict[str, str]:
    """Headers of an admin bootstrapped through the service layer, as the CLI does."""
    return agent_headers(database_url, "root", "admin", "Root")


def agent(client: TestClient, admin: dict[str, str], handle: str, role: str = "agent") -> Any:
    body = {"handle": handle, "name": handle.title(), "email": f"{handle}@example.com"}
    return create_entity(client, admin, "agents", {**body, "role": role})


def seed(client: TestClient, admin: dict[str, str]) -> None:
    """jane and john, a team, a department, an SLA plan and a schedule: what others name."""
    agent(client, admin, "jane")
    agent(client, admin, "john")
    create_entity(client, admin, "teams", {"handle": "ob", "name": "OB", "lead": "jane"})
    create_entity(client, admin, "departments", {"handle": "ob", "name": "OB", "manager": "jane"})
    create_entity(client, admin, "sla-plans", sla_plan_body())
    create_entity(client, admin, "schedules", office_hours_body())


def test_admin_endpoints_need_credentials(client: TestClient, admin: dict[str, str]) -> None:
    assert client.get(f"{API}/agents").status_code == 401
    assert client.get(f"{API}/agents", headers=bearer("not-a-token")).status_code == 401
    assert client.post(f"{API}/teams", json={}).status_code == 401
    assert client.get(f"{API}/agents", headers=admin).status_code == 200


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_agents_and_viewers_are_forbidden(
    client: TestClient, admin: dict[str, str], role: str
) -> None:
    token = bearer(agent(client, admin, "someone", role=role)["token"])
    for kind in KINDS:
        assert client.get(f"{API}/{kind}", headers=token).status_code == 403
    assert client.post(f"{API}/sla-plans", json=sla_plan_body(), headers=token).status_code == 403
    assert client.patch(f"{API}/agents/someone", json={}, headers=token).status_code == 403


def test_agent_token_is_returned_once_and_authenticates(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = agent(client, admin, "ada", role="admin")
    assert created["token"] and created["active"] is True and created["role"] == "admin"
    # The new admin's token works; no read ever shows a token again.
    listed = client.get(f"{API}/agents", headers=bearer(created["token"]))
    assert listed.status_code == 200
    assert [a["handle"] for a in listed.json()["items"]] == ["ada", "root"]
    assert created["token"] not in listed.text
    read = client.get(f"{API}/agents/ada", headers=admin).json()
    assert "token" not in read and read["email"] == "ada@example.com"


def test_rotating_a_token_invalidates_the_old_one(
    client: TestClient, admin: dict[str, str]
) -> None:
    old = agent(client, admin, "ada", role="admin")["token"]
    r = client.patch(f"{API}/agents/ada", json={"rotate_token": True}, headers=admin)
    assert r.status_code == 200, r.text
    new = r.json()["token"]
    assert new and new != old
    assert client.get(f"{API}/agents", headers=bearer(old)).status_code == 401
    assert client.get(f"{API}/agents", headers=bearer(new)).status_code == 200
    r = client.patch(f"{API}/agents/ada", json={"name": "Ada L."}, headers=admin)
    assert r.json()["token"] is None and r.json()["name"] == "Ada L."


def test_disabled_agent_is_unauthorized(client: TestClient, admin: dict[str, str]) -> None:
    token = bearer(agent(client, admin, "ada", role="admin")["token"])
    r = client.patch(f"{API}/agents/ada", json={"active": False}, headers=admin)
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.get(f"{API}/agents", headers=token).status_code == 401
    client.patch(f"{API}/agents/ada", json={"active": True}, headers=admin)
    assert client.get(f"{API}/agents", headers=token).status_code == 200


def test_patch_agent_role_and_email(client: TestClient, admin: dict[str, str]) -> None:
    token = bearer(agent(client, admin, "ada")["token"])
    r = client.patch(f"{API}/agents/ada", json={"role": "admin", "email": "a@x.io"}, headers=admin)
    assert r.status_code == 200 and r.json()["role"] == "admin"
    assert client.get(f"{API}/agents/ada", headers=token).json()["email"] == "a@x.io"
    for bad in [{"role": "boss"}, {"email": "not-an-email"}, {"active": "maybe"}]:
        assert client.patch(f"{API}/agents/ada", json=bad, headers=admin).status_code == 422


def test_team_members_and_agent_teams_stay_consistent(
    client: TestClient, admin: dict[str, str]
) -> None:
    seed(client, admin)
    team = create_entity(
        client,
        admin,
        "teams",
        {"handle": "net", "name": "Net", "lead": "jane", "members": ["jane", "john"]},
    )
    assert team["members"] == ["jane", "john"]
    assert client.get(f"{API}/agents/john", headers=admin).json()["teams"] == ["net"]
    # Through the agent: john joins ob and leaves net.
    r = client.patch(f"{API}/agents/john", json={"teams": ["ob"]}, headers=admin)
    assert r.status_code == 200 and r.json()["teams"] == ["ob"]
    assert client.get(f"{API}/teams/net", headers=admin).json()["members"] == ["jane"]
    assert client.get(f"{API}/teams/ob", headers=admin).json()["members"] == ["john"]
    # Through the team: net's members replaced.
    r = client.patch(
        f"{API}/teams/net", json={"members": ["john"], "name": "Network"}, headers=admin
    )
    assert r.status_code == 200 and r.json()["members"] == ["john"]
    assert client.get(f"{API}/agents/jane", headers=admin).json()["teams"] == []
    assert client.get(f"{API}/agents/john", headers=admin).json()["teams"] == ["net", "ob"]
    agent(client, admin, "kim")
    r = client.patch(f"{API}/agents/kim", json={"teams": ["ob", "ob"]}, headers=admin)
    assert r.json()["teams"] == ["ob"]
    teams = client.get(f"{API}/teams", headers=admin).json()["items"]
    assert [(t["handle"], t["lead"]) for t in teams] == [("net", "jane"), ("ob", "jane")]


def test_departments_create_list_get_patch(client: TestClient, admin: dict[str, str]) -> None:
    seed(client, admin)
    created = create_entity(
        client, admin, "departments", {"handle": "support", "name": "Support", "manager": "john"}
    )
    assert created == {"handle": "support", "name": "Support", "manager": "john", "schedule": None}
    items = client.get(f"{API}/departments", headers=admin).json()["items"]
    assert [d["handle"] for d in items] == ["ob", "support"]
    r = client.patch(f"{API}/departments/support", json={"manager": "jane"}, headers=admin)
    assert r.status_code == 200
    assert client.get(f"{API}/departments/support", headers=admin).json()["manager"] == "jane"


def test_help_topics_create_list_get_patch(client: TestClient, admin: dict[str, str]) -> None:
    seed(client, admin)
    body = {
        "handle": "banking",
        "name": "Online banking",
        "department": "ob",
        "sla_plan": "default",
        "priority": "high",
        "team": "ob",
    }
    texts = {"description": None, "instructions": None, "active": True}
    assert create_entity(client, admin, "help-topics", body) == {**body, "agent": None, **texts}
    general = create_entity(
        client,
        admin,
        "help-topics",
        {"handle": "general", "name": "General", "department": "ob", "sla_plan": "default"},
    )
    assert general["priority"] == "normal" and general["team"] is None
    items = client.get(f"{API}/help-topics", headers=admin).json()["items"]
    assert [t["handle"] for t in items] == ["banking", "general"]
    r = client.patch(
        f"{API}/help-topics/banking", json={"team": None, "agent": "john"}, headers=admin
    )
    assert r.status_code == 200, r.text
    read = client.get(f"{API}/help-topics/banking", headers=admin).json()
    assert (read["team"], read["agent"], read["priority"]) == (None, "john", "high")


def test_sla_plans_create_list_get_patch(client: TestClient, admin: dict[str, str]) -> None:
    body = sla_plan_body(
        first_response="PT90M",
        by_priority={"emergency": {"first_response": "PT30M", "resolution": "PT4H"}},
    )
    created = create_entity(client, admin, "sla-plans", body)
    assert created["first_response"] == "PT1H30M"  # stored in canonical form
    assert created["by_priority"]["emergency"] == {"first_response": "PT30M", "resolution": "PT4H"}
    create_entity(client, admin, "sla-plans", sla_plan_body(handle="short", auto_close="PT1M"))
    items = client.get(f"{API}/sla-plans", headers=admin).json()["items"]
    assert [p["handle"] for p in items] == ["default", "short"]
    r = client.patch(
        f"{API}/sla-plans/default",
        json={"by_priority": {"high": {"resolution": "PT8H"}}},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    read = client.get(f"{API}/sla-plans/default", headers=admin).json()
    assert read["by_priority"] == {"high": {"first_response": None, "resolution": "PT8H"}}
    assert read["resolution"] == "P1D"


@pytest.mark.parametrize(
    "change",
    [
        {"first_response": "PT0S"},
        {"resolution": "-PT1H"},
        {"auto_close": "3600"},
        {"auto_close": "tomorrow"},
        {"by_priority": {"urgent": {"resolution": "PT1H"}}},
        {"by_priority": {"high": {"resolution": "PT0M"}}},
    ],
)
def test_sla_durations_must_be_positive_iso(
    client: TestClient, admin: dict[str, str], change: dict[str, Any]
) -> None:
    r = client.post(f"{API}/sla-plans", json=sla_plan_body(**change), headers=admin)
    assert r.status_code == 422, r.text
    create_entity(client, admin, "sla-plans", sla_plan_body())
    assert client.patch(f"{API}/sla-plans/default", json=change, headers=admin).status_code == 422


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_handle_in_path_is_404(
    client: TestClient, admin: dict[str, str], kind: str
) -> None:
    r = client.get(f"{API}/{kind}/nobody", headers=admin)
    assert r.status_code == 404 and "'nobody' not found" in r.json()["detail"]
    assert client.patch(f"{API}/{kind}/nobody", json={}, headers=admin).status_code == 404


def ladder(clock: str = "resolution", **step: Any) -> dict[str, Any]:
    """An SLA plan change: one ladder with one step (L1 at the breach) plus `step`'s fields."""
    return {"ladders": {clock: {"steps": [{"name": "L1", "after_breach": "PT0S", **step}]}}}


def bodies() -> dict[str, dict[str, Any]]:
    return {
        "agents": {"handle": "jane", "name": "J", "email": "j@example.com", "role": "agent"},
        "teams": {"handle": "ob", "name": "OB", "lead": "jane"},
        "departments": {"handle": "ob", "name": "OB", "manager": "jane"},
        "help-topics": {"handle": "t", "name": "T", "department": "ob", "sla_plan": "default"},
        "sla-plans": sla_plan_body(),
        "schedules": office_hours_body(),
    }


@pytest.mark.parametrize("kind", KINDS)
def test_duplicate_handle_is_409(client: TestClient, admin: dict[str, str], kind: str) -> None:
    seed(client, admin)
    if kind == "help-topics":
        create_entity(client, admin, kind, bodies()[kind])
    r = client.post(f"{API}/{kind}", json=bodies()[kind], headers=admin)
    assert r.status_code == 409 and "already exists" in r.json()["detail"]


@pytest.mark.parametrize(
    ("kind", "body", "message"),
    [
        ("teams", {"lead": "bob"}, "unknown agent 'bob'"),
        ("teams", {"members": ["jane", "bob"]}, "unknown agent 'bob'"),
        ("departments", {"manager": "bob"}, "unknown agent 'bob'"),
        ("help-topics", {"department": "nope"}, "unknown department 'nope'"),
        ("help-topics", {"sla_plan": "nope"}, "unknown SLA plan 'nope'"),
        ("help-topics", {"team": "nope"}, "unknown team 'nope'"),
        ("help-topics", {"agent": "bob"}, "unknown agent 'bob'"),
        ("agents", {"teams": ["nope"]}, "unknown team 'nope'"),
        ("departments", {"schedule": "nope"}, "unknown schedule 'nope'"),
        ("sla-plans", {"schedule": "nope"}, "unknown schedule 'nope'"),
        ("sla-plans", ladder(notify=["team:nope"]), "unknown team 'nope'"),
        ("sla-plans", ladder(notify=["owner", "agent:bob"]), "unknown agent 'bob'"),
        ("sla-plans", ladder(reassign_team="nope"), "unknown team 'nope'"),
    ],
)
def test_unknown_referenced_handle_is_422(
    client: TestClient, admin: dict[str, str], kind: str, body: dict[str, Any], message: str
) -> None:
    seed(client, admin)
    fresh = {**bodies()[kind], "handle": "fresh", **body}
    r = client.post(f"{API}/{kind}", json=fresh, headers=admin)
    assert r.status_code == 422 and message in r.text, r.text
    assert client.get(f"{API}/{kind}/fresh", headers=admin).status_code == 404
    target = {"agents": "jane", "teams": "ob", "departments": "ob", "sla-plans": "default"}.get(
        kind
    )
    if target:
        r = client.patch(f"{API}/{kind}/{target}", json=body, headers=admin)
        assert r.status_code == 422 and message in r.text, r.text


@pytest.mark.parametrize("kind", KINDS)
def test_bad_bodies_are_422(client: TestClient, admin: dict[str, str], kind: str) -> None:
    seed(client, admin)
    good = {**bodies()[kind], "handle": "fresh"}
    for bad in [{**good, "surprise": 1}, {**good, "handle": "Not A Handle"}, {**good, "name": ""}]:
        assert client.post(f"{API}/{kind}", json=bad, headers=admin).status_code == 422, bad
    target = {
        "agents": "jane",
        "help-topics": "fresh",
        "sla-plans": "default",
        "schedules": "office",
    }.get(kind, "ob")
    if kind == "help-topics":
        create_entity(client, admin, kind, good)
    for patch in [{"surprise": 1}, {"handle": "renamed"}, {"name": None}, {"name": ""}]:
        r = client.patch(f"{API}/{kind}/{target}", json=patch, headers=admin)
        assert r.status_code == 422, (patch, r.text)
    r = client.post(
        f"{API}/{kind}", content=b"{nope", headers={**admin, "Content-Type": "application/json"}
    )
    assert r.status_code == 422


def test_schedules_create_list_get_patch(client: TestClient, admin: dict[str, str]) -> None:
    body = office_hours_body(holidays=["2026-12-28"], yearly_holidays=[{"month": 12, "day": 25}])
    created = create_entity(client, admin, "schedules", body)
    assert created["hours"]["0"] == [{"start": "09:00", "end": "17:00"}]
    assert created["holidays"] == ["2026-12-28"] and created["timezone"] == "Europe/London"
    assert client.get(f"{API}/schedules/office", headers=admin).json() == created
    all_day = office_hours_body(handle="always", timezone="UTC")
    all_day["hours"] = {str(day): [{"start": "00:00", "end": "24:00"}] for day in range(7)}
    assert create_entity(client, admin, "schedules", all_day)["hours"]["6"][0]["end"] == "24:00"
    items = client.get(f"{API}/schedules", headers=admin).json()["items"]
    assert [s["handle"] for s in items] == ["always", "office"]
    # A patch replaces the fields it states (hours as a whole week) and keeps the rest.
    split = [{"start": "13:00", "end": "17:00"}, {"start": "08:00", "end": "12:00"}]
    r = client.patch(f"{API}/schedules/office", json={"hours": {"5": split}}, headers=admin)
    assert r.status_code == 200, r.text
    read = client.get(f"{API}/schedules/office", headers=admin).json()
    assert list(read["hours"]) == ["5"] and read["hours"]["5"][0]["start"] == "08:00"
    assert read["holidays"] == ["2026-12-28"] and read["name"] == "Office hours"
    r = client.patch(f"{API}/schedules/office", json={"name": "Weekend"}, headers=admin)
    assert r.json()["name"] == "Weekend" and r.json()["hours"] == read["hours"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "unknown IANA time zone"),
        (
            {
                "hours": {
                    "0": [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "17:00"}]
                }
            },
            "opening intervals overlap on weekday 0",
        ),
        # YAML reads an unquoted 17:00 as the number 1020: a time must be a string.
        ({"hours": {"0": [{"start": "09:00", "end": 1020}]}}, "must be a string"),
        ({"hours": {"0": [{"start": "17:00", "end": "09:00"}]}}, "must start before it ends"),
        ({"hours": {"7": NINE_TO_FIVE}}, "weekday must be 0 (Monday) to 6 (Sunday)"),
        ({"yearly_holidays": [{"month": 2, "day": 30}]}, "day is out of range"),
        ({"holidays": ["christmas"]}, "valid date"),
    ],
)
def test_invalid_schedules_are_422(
    client: TestClient, admin: dict[str, str], change: dict[str, Any], message: str
) -> None:
    r = client.post(f"{API}/schedules", json=office_hours_body(**change), headers=admin)
    assert r.status_code == 422 and message in r.text, r.text
    assert client.get(f"{API}/schedules/office", headers=admin).status_code == 404
    # The same mistakes in a patch, checked against the schedule they would leave.
    create_entity(client, admin, "schedules", office_hours_body())
    r = client.patch(f"{API}/schedules/office", json=change, headers=admin)
    assert r.status_code == 422 and message in r.text, r.text
    [field] = change
    assert r.json()["detail"][0]["loc"][:2] == ["body", field]
    assert client.get(f"{API}/schedules/office", headers=admin).json()["timezone"] == (
        "Europe/London"
    )


def test_sla_plan_ladders_next_response_and_schedule_round_trip(
    client: TestClient, admin: dict[str, str]
) -> None:
    seed(client, admin)
    ladders = {
        "resolution": {
            "steps": [
                {"name": "warning", "at_percent": 75, "notify": ["assignee"]},
                {"name": "L1", "after_breach": "PT0S", "notify": ["owner", "team:ob"]},
                {
                    "name": "L2",
                    "after_breach": "PT60M",
                    "notify": ["team_lead", "agent:john"],
                    "raise_priority": True,
                    "reassign_team": "ob",
                },
            ],
            "repeat_every": "PT2H",
            "repeat_max": 3,
        },
        "first_response": {"steps": []},
    }
    body = sla_plan_body(
        handle="business", next_response="PT480M", schedule="office", ladders=ladders
    )
    created = create_entity(client, admin, "sla-plans", body)
    assert (created["next_response"], created["schedule"]) == ("PT8H", "office")
    steps = created["ladders"]["resolution"]["steps"]
    assert [s["name"] for s in steps] == ["warning", "L1", "L2"]
    assert steps[0] == {
        "name": "warning",
        "at_percent": 75,
        "after_breach": None,
        "notify": ["assignee"],
        "raise_priority": False,
        "reassign_team": None,
    }
    assert steps[2]["after_breach"] == "PT1H" and steps[2]["reassign_team"] == "ob"
    assert created["ladders"]["resolution"]["repeat_every"] == "PT2H"
    assert created["ladders"]["first_response"] == {
        "steps": [],
        "repeat_every": None,
        "repeat_max": 0,
    }
    assert client.get(f"{API}/sla-plans/business", headers=admin).json() == created
    # A plan without them reads as none; null clears them again.
    plain = client.get(f"{API}/sla-plans/default", headers=admin).json()
    assert (plain["next_response"], plain["schedule"], plain["ladders"]) == (None, None, {})
    clear = {"next_response": None, "schedule": None, "ladders": None}
    r = client.patch(f"{API}/sla-plans/business", json=clear, headers=admin)
    assert r.status_code == 200, r.text
    read = client.get(f"{API}/sla-plans/business", headers=admin).json()
    assert (read["next_response"], read["schedule"], read["ladders"]) == (None, None, {})
    assert read["first_response"] == "PT4H"
    r = client.patch(
        f"{API}/sla-plans/business", json={"schedule": "office", **ladder()}, headers=admin
    )
    assert r.json()["schedule"] == "office" and list(r.json()["ladders"]) == ["resolution"]


@pytest.mark.parametrize(
    "change",
    [
        ladder(clock="closing"),
        {"ladders": {"resolution": {"steps": [{"name": "L1"}]}}},
        ladder(at_percent=50),
        ladder(at_percent=100, after_breach=None),
        ladder(notify=["boss"]),
        ladder(notify=["team"]),
        ladder(after_breach="3600"),
        ladder(after_breach="-PT1H"),
        ladder(surprise=1),
        {"ladders": {"resolution": {"steps": [], "repeat_every": "PT0S", "repeat_max": 1}}},
        {"ladders": {"resolution": {"steps": [], "repeat_every": "PT1H", "repeat_max": 101}}},
        {"next_response": "PT0S"},
        {"next_response": "soon"},
    ],
)
def test_invalid_ladders_and_next_response_are_422(
    client: TestClient, admin: dict[str, str], change: dict[str, Any]
) -> None:
    r = client.post(f"{API}/sla-plans", json=sla_plan_body(**change), headers=admin)
    assert r.status_code == 422, r.text
    create_entity(client, admin, "sla-plans", sla_plan_body())
    assert client.patch(f"{API}/sla-plans/default", json=change, headers=admin).status_code == 422


def test_department_schedule_is_set_and_cleared(client: TestClient, admin: dict[str, str]) -> None:
    seed(client, admin)
    body = {"handle": "support", "name": "Support", "manager": "john", "schedule": "office"}
    assert create_entity(client, admin, "departments", body)["schedule"] == "office"
    r = client.patch(f"{API}/departments/ob", json={"schedule": "office"}, headers=admin)
    assert r.status_code == 200 and r.json()["schedule"] == "office"
    r = client.patch(f"{API}/departments/support", json={"schedule": None}, headers=admin)
    assert r.status_code == 200, r.text
    read = client.get(f"{API}/departments/support", headers=admin).json()
    assert (read["schedule"], read["manager"]) == (None, "john")
    # null clears only the schedule: a department keeps its manager.
    r = client.patch(f"{API}/departments/support", json={"manager": None}, headers=admin)
    assert r.status_code == 422
