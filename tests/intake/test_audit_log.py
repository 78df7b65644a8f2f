"""The audit log over HTTP, on SQLite and PostgreSQL: every kind of admin change is recorded
with who made it and what changed (never a secret), read by admins newest first, paged and
filtered; a refused change records nothing; the config loader records its changes too."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.db.engine import make_engine, make_sessionmaker
from shared.reference.config_file import load_config
from tests.builders import bearer, create_entity, office_hours_body, sla_plan_body

API = "/api/v1/admin"
AUDIT = f"{API}/audit"


@pytest.fixture
def admin(database_url: str) -> dict[str, str]:
    """Root, an admin loaded from a config file (which the log records as load-config)."""
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        agents = [
            {
                "handle": "root",
                "name": "Root",
                "email": "root@example.com",
                "role": "admin",
                "token": "root-token-1234",
            }
        ]
        load_config(session, {"agents": agents})
    engine.dispose()
    return bearer("root-token-1234")


def entries(client: TestClient, admin: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    response = client.get(AUDIT, params=params, headers=admin)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def patch(client: TestClient, admin: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    response = client.patch(f"{API}/{path}", json=body, headers=admin)
    assert response.status_code == 200, response.text
    return response.json()


def test_every_kind_of_admin_change_is_recorded_with_who_and_what(
    client: TestClient, admin: dict[str, str]
) -> None:
    person = {"name": "John", "email": "john@example.com", "role": "agent"}
    john = create_entity(client, admin, "agents", {"handle": "john", **person})
    create_entity(client, admin, "teams", {"handle": "ob", "name": "OB", "lead": "root"})
    create_entity(client, admin, "schedules", office_hours_body())
    create_entity(client, admin, "departments", {"handle": "ob", "name": "OB", "manager": "root"})
    create_entity(client, admin, "sla-plans", sla_plan_body())
    topic = {"handle": "login", "name": "Login", "department": "ob", "sla_plan": "default"}
    create_entity(client, admin, "help-topics", topic)
    patch(client, admin, "agents/john", {"role": "admin", "rotate_token": True})
    patch(client, admin, "teams/ob", {"members": ["john"]})
    patch(client, admin, "schedules/office", {"name": "Office (UK)"})
    patch(client, admin, "departments/ob", {"name": "Online banking"})
    patch(client, admin, "sla-plans/default", {"resolution": "P2D"})
    patch(client, admin, "help-topics/login", {"priority": "high"})
    key = create_entity(client, admin, "api-keys", {"name": "crm", "scopes": ["tickets:read"]})
    assert client.delete(f"{API}/api-keys/{key['id']}", headers=admin).status_code == 200

    log = entries(client, admin, per_page=200)
    kinds = [(e["action"], e["entity"], e["entity_id"]) for e in log]
    assert kinds == [
        ("revoked", "api_key", str(key["id"])),
        ("created", "api_key", str(key["id"])),
        ("updated", "help_topic", "login"),
        ("updated", "sla_plan", "default"),
        ("updated", "department", "ob"),
        ("updated", "schedule", "office"),
        ("updated", "team", "ob"),
        ("updated", "agent", "john"),
        ("created", "help_topic", "login"),
        ("created", "sla_plan", "default"),
        ("created", "department", "ob"),
        ("created", "schedule", "office"),
        ("created", "team", "ob"),
        ("created", "agent", "john"),
        ("created", "agent", "root"),  # loaded from the config file
    ]
    by_root = {"kind": "agent", "name": "Root", "handle": "root"}
    assert all(e["actor"] == by_root for e in log[:-1])
    assert log[-1]["actor"] == {"kind": "system", "name": "load-config", "handle": None}
    agent = log[7]
    assert agent["changes"] == {"role": ["agent", "admin"], "token": ["(secret)", "(rotated)"]}
    assert agent["summary"] == (
        """updated agent 'john': role "agent" → "admin", token (secret) → (rotated)"""
    )
    assert log[3]["changes"] == {"resolution": ["P1D", "P2D"]}
    assert log[6]["changes"] == {"members": [[], ["john"]]}
    assert log[1]["changes"]["scopes"] == [None, ["tickets:read"]]
    # No secret is ever kept: neither the agent's tokens nor the key.
    text = client.get(AUDIT, params={"per_page": 200}, headers=admin).text
    assert john["token"] not in text and key["key"] not in text and "root-token" not in text


def test_the_log_is_paged_newest_first_and_filtered_by_entity(
    client: TestClient, admin: dict[str, str]
) -> None:
    for n in range(5):
        create_entity(client, admin, "teams", {"handle": f"t{n}", "name": f"T{n}", "lead": "root"})
    patch(client, admin, "teams/t1", {"name": "T one"})
    page = client.get(AUDIT, params={"entity": "team", "per_page": 2, "page": 2}, headers=admin)
    assert page.status_code == 200
    body = page.json()
    assert body["total"] == 6 and body["page"] == 2 and body["per_page"] == 2
    assert [e["entity_id"] for e in body["items"]] == ["t3", "t2"]
    t1 = entries(client, admin, entity="team", entity_id="t1")
    assert [e["action"] for e in t1] == ["updated", "created"]
    assert entries(client, admin, entity="schedule") == []
    ats = [e["at"] for e in entries(client, admin)]
    assert ats == sorted(ats, reverse=True) and all(
        at.endswith("Z") or "+00:00" in at for at in ats
    )


def test_a_refused_or_empty_change_records_nothing(
    client: TestClient, admin: dict[str, str]
) -> None:
    create_entity(client, admin, "teams", {"handle": "ob", "name": "OB", "lead": "root"})
    before = len(entries(client, admin))
    duplicate = client.post(
        f"{API}/teams", json={"handle": "ob", "name": "x", "lead": "root"}, headers=admin
    )
    assert duplicate.status_code == 409
    unknown = client.patch(f"{API}/teams/ob", json={"lead": "nobody"}, headers=admin)
    assert unknown.status_code == 422
    patch(client, admin, "teams/ob", {"name": "OB"})  # the same name: nothing changed
    assert len(entries(client, admin)) == before


def test_a_keys_admin_changes_are_recorded_under_its_name(
    client: TestClient, admin: dict[str, str]
) -> None:
    key = create_entity(client, admin, "api-keys", {"name": "provisioner", "scopes": ["admin"]})
    by_key = bearer(key["key"])
    response = client.post(
        f"{API}/teams", json={"handle": "ops", "name": "Ops", "lead": "root"}, headers=by_key
    )
    assert response.status_code == 201, response.text
    [entry] = entries(client, admin, entity="team")
    assert entry["actor"] == {
        "kind": "integration",
        "name": "provisioner",
        "handle": f"key:{key['id']}",
    }


@pytest.mark.parametrize(
    "params",
    [{"entity": "ticket"}, {"page": "0"}, {"per_page": "201"}, {"entity_id": "a\x00"}],
)
def test_bad_audit_queries_are_422(
    client: TestClient, admin: dict[str, str], params: dict[str, str]
) -> None:
    assert client.get(AUDIT, params=params, headers=admin).status_code == 422


def test_only_admins_read_the_log(client: TestClient, admin: dict[str, str]) -> None:
    person = {"name": "V", "email": "v@example.com", "role": "agent"}
    agent = create_entity(client, admin, "agents", {"handle": "v", **person})
    assert client.get(AUDIT, headers=bearer(agent["token"])).status_code == 403
    assert client.get(AUDIT).status_code == 401
