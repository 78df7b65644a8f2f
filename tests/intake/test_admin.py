"""The admin API over HTTP, on SQLite and PostgreSQL: auth, every kind's create/list/get/patch,
and bad input answered with 404, 409 or 422, never a 500."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.intake.app import create_app
from shared import reference
from shared.db.engine import make_engine, make_sessionmaker
from shared.reference_schemas import AgentCreate
from shared.settings import Settings

API = "/api/v1/admin"
PLAN = {
    "handle": "default",
    "name": "Default",
    "first_response": "PT4H",
    "resolution": "P1D",
    "auto_close": "P3D",
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=database_url, environment="test"))) as c:
        yield c


@pytest.fixture
def admin(database_url: str) -> dict[str, str]:
    """Headers of an admin bootstrapped through the service layer, as the CLI does."""
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        data = AgentCreate(handle="root", name="Root", email="root@example.com", role="admin")
        _, token = reference.create_agent(session=session, data=data)
        session.commit()
    engine.dispose()
    return bearer(token)


def create(client: TestClient, admin: dict[str, str], kind: str, body: dict[str, Any]) -> Any:
    response = client.post(f"{API}/{kind}", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def agent(client: TestClient, admin: dict[str, str], handle: str, role: str = "agent") -> Any:
    body = {"handle": handle, "name": handle.title(), "email": f"{handle}@example.com"}
    return create(client, admin, "agents", {**body, "role": role})


def seed(client: TestClient, admin: dict[str, str]) -> None:
    """jane and john, a team, a department and an SLA plan: what a help topic needs."""
    agent(client, admin, "jane")
    agent(client, admin, "john")
    create(client, admin, "teams", {"handle": "ob", "name": "OB", "lead": "jane"})
    create(client, admin, "departments", {"handle": "ob", "name": "OB", "manager": "jane"})
    create(client, admin, "sla-plans", PLAN)


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
    for kind in ("agents", "teams", "departments", "help-topics", "sla-plans"):
        assert client.get(f"{API}/{kind}", headers=token).status_code == 403
    assert client.post(f"{API}/sla-plans", json=PLAN, headers=token).status_code == 403
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
    team = create(
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
    created = create(
        client, admin, "departments", {"handle": "support", "name": "Support", "manager": "john"}
    )
    assert created == {"handle": "support", "name": "Support", "manager": "john"}
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
    assert create(client, admin, "help-topics", body) == {**body, "agent": None}
    general = create(
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
    body = {
        **PLAN,
        "first_response": "PT90M",
        "by_priority": {"emergency": {"first_response": "PT30M", "resolution": "PT4H"}},
    }
    created = create(client, admin, "sla-plans", body)
    assert created["first_response"] == "PT1H30M"  # stored in canonical form
    assert created["by_priority"]["emergency"] == {"first_response": "PT30M", "resolution": "PT4H"}
    create(client, admin, "sla-plans", {**PLAN, "handle": "short", "auto_close": "PT1M"})
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
    r = client.post(f"{API}/sla-plans", json={**PLAN, **change}, headers=admin)
    assert r.status_code == 422, r.text
    create(client, admin, "sla-plans", PLAN)
    assert client.patch(f"{API}/sla-plans/default", json=change, headers=admin).status_code == 422


@pytest.mark.parametrize("kind", ["agents", "teams", "departments", "help-topics", "sla-plans"])
def test_unknown_handle_in_path_is_404(
    client: TestClient, admin: dict[str, str], kind: str
) -> None:
    r = client.get(f"{API}/{kind}/nobody", headers=admin)
    assert r.status_code == 404 and "'nobody' not found" in r.json()["detail"]
    assert client.patch(f"{API}/{kind}/nobody", json={}, headers=admin).status_code == 404


def bodies() -> dict[str, dict[str, Any]]:
    return {
        "agents": {"handle": "jane", "name": "J", "email": "j@example.com", "role": "agent"},
        "teams": {"handle": "ob", "name": "OB", "lead": "jane"},
        "departments": {"handle": "ob", "name": "OB", "manager": "jane"},
        "help-topics": {"handle": "t", "name": "T", "department": "ob", "sla_plan": "default"},
        "sla-plans": PLAN,
    }


@pytest.mark.parametrize("kind", ["agents", "teams", "departments", "help-topics", "sla-plans"])
def test_duplicate_handle_is_409(client: TestClient, admin: dict[str, str], kind: str) -> None:
    seed(client, admin)
    if kind == "help-topics":
        create(client, admin, kind, bodies()[kind])
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
    target = {"agents": "jane", "teams": "ob", "departments": "ob"}.get(kind)
    if target:
        r = client.patch(f"{API}/{kind}/{target}", json=body, headers=admin)
        assert r.status_code == 422 and message in r.text, r.text


@pytest.mark.parametrize("kind", ["agents", "teams", "departments", "help-topics", "sla-plans"])
def test_bad_bodies_are_422(client: TestClient, admin: dict[str, str], kind: str) -> None:
    seed(client, admin)
    good = {**bodies()[kind], "handle": "fresh"}
    for bad in [{**good, "surprise": 1}, {**good, "handle": "Not A Handle"}, {**good, "name": ""}]:
        assert client.post(f"{API}/{kind}", json=bad, headers=admin).status_code == 422, bad
    target = {"agents": "jane", "help-topics": "fresh", "sla-plans": "default"}.get(kind, "ob")
    if kind == "help-topics":
        create(client, admin, kind, good)
    for patch in [{"surprise": 1}, {"handle": "renamed"}, {"name": None}, {"name": ""}]:
        r = client.patch(f"{API}/{kind}/{target}", json=patch, headers=admin)
        assert r.status_code == 422, (patch, r.text)
    r = client.post(
        f"{API}/{kind}", content=b"{nope", headers={**admin, "Content-Type": "application/json"}
    )
    assert r.status_code == 422
