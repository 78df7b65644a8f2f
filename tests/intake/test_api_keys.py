"""Integrations' API keys over HTTP, on SQLite and PostgreSQL: the secret answered once and
never listed, scopes mapped onto the routes (403 naming the missing scope, before the body is
read), revocation and expiry answered 401 at once, last use listed, and `require_scope` as other
routes use it."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from sqlalchemy import update

from services.intake.auth import KeyPrincipal, Staff, require_scope
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import ApiKeyRow
from tests.builders import bearer, create_agents, person, ticket_body

KEYS = "/api/v1/admin/api-keys"
TICKETS = "/api/v1/tickets"
WINDOW = {"from": "2025-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z"}
BAD_BODY = b"{nope"
JSON = {"Content-Type": "application/json"}
TICKET = ticket_body()


# What another team's route looks like: it needs a scope, whoever the caller.
probe = APIRouter(prefix="/api/v1/probe")


@probe.get("/events")
def events(caller: Annotated[Staff, Depends(require_scope("events:read"))]) -> dict[str, str]:
    who = f"key {caller.name}" if isinstance(caller, KeyPrincipal) else f"agent {caller.handle}"
    return {"caller": who}


@probe.post("/webhooks", dependencies=[Depends(require_scope("webhooks:admin"))])
def webhooks(body: dict[str, int]) -> dict[str, int]:
    return body


@pytest.fixture
def client(client_for: Callable[..., TestClient]) -> TestClient:
    """The intake with the probe's routes mounted."""
    return client_for(routers=[probe])


@pytest.fixture
def tokens(database_url: str) -> dict[str, str]:
    """One agent per role, bootstrapped through the service layer as the CLI does."""
    roles = ("admin", "agent", "viewer")
    agents = (person(r, r, r.title(), domain="x.org") for r in roles)
    return dict(zip(roles, create_agents(database_url, *agents), strict=True))


def new_key(client: TestClient, admin: str, *scopes: str, **extra: Any) -> dict[str, Any]:
    body = {"name": extra.pop("name", "crm"), "scopes": list(scopes), **extra}
    response = client.post(KEYS, json=body, headers=bearer(admin))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_a_key_is_answered_once_and_listed_without_its_secret(
    client: TestClient, tokens: dict[str, str]
) -> None:
    admin = bearer(tokens["admin"])
    created = new_key(client, tokens["admin"], "tickets:read", "tickets:write")
    secret = created["key"]
    assert secret.startswith("tfk_") and created["prefix"] == secret[:12]
    assert created["scopes"] == ["tickets:read", "tickets:write"]
    assert created["active"] is True and created["created_by"] == "admin"
    assert created["last_used_at"] is None and created["expires_at"] is None
    listed = client.get(KEYS, headers=admin)
    assert listed.status_code == 200
    assert secret not in listed.text and secret[12:] not in listed.text
    [item] = listed.json()["items"]
    assert "key" not in item and item["id"] == created["id"] and item["name"] == "crm"
    one = client.get(f"{KEYS}/{created['id']}", headers=admin)
    assert one.status_code == 200 and "key" not in one.json() and secret not in one.text
    assert client.get(f"{KEYS}/999", headers=admin).status_code == 404


def test_a_key_authenticates_and_its_last_use_is_listed(
    client: TestClient, tokens: dict[str, str]
) -> None:
    key = new_key(client, tokens["admin"], "tickets:read")
    response = client.get(TICKETS, headers=bearer(key["key"]))
    assert response.status_code == 200, response.text
    [item] = client.get(KEYS, headers=bearer(tokens["admin"])).json()["items"]
    used = datetime.fromisoformat(item["last_used_at"])
    assert abs(datetime.now(UTC) - used) < timedelta(minutes=1)


def test_scopes_map_onto_the_routes(client: TestClient, tokens: dict[str, str]) -> None:
    reader = bearer(new_key(client, tokens["admin"], "tickets:read")["key"])
    writer = bearer(new_key(client, tokens["admin"], "tickets:write")["key"])
    admin_key = bearer(new_key(client, tokens["admin"], "admin")["key"])
    assert client.get(TICKETS, headers=reader).status_code == 200
    assert client.get("/api/v1/reports/sla", params=WINDOW, headers=reader).status_code == 200
    assert client.get("/api/v1/reports/agents", params=WINDOW, headers=reader).status_code == 200
    assert client.get("/api/v1/admin/agents", headers=admin_key).status_code == 200
    assert client.get("/api/v1/admin/alerts", headers=admin_key).status_code == 200
    assert client.get(TICKETS, headers=admin_key).status_code == 200  # admin implies all
    for headers, method, path, missing in [
        (writer, "GET", TICKETS, "tickets:read"),
        (writer, "GET", f"{TICKETS}/123456", "tickets:read"),
        (writer, "GET", f"{TICKETS}/123456/timeline", "tickets:read"),
        (writer, "GET", "/api/v1/reports/sla", "tickets:read"),
        (reader, "POST", f"{TICKETS}/123456/assign", "tickets:write"),
        (reader, "POST", f"{TICKETS}/123456/replies", "tickets:write"),
        (reader, "POST", f"{TICKETS}/123456/close", "tickets:write"),
        (reader, "GET", "/api/v1/admin/agents", "admin"),
        (writer, "POST", "/api/v1/admin/teams", "admin"),
        (reader, "GET", KEYS, "admin"),
        (reader, "GET", "/api/v1/admin/audit", "admin"),
        (reader, "GET", "/api/v1/admin/alerts", "admin"),
    ]:
        # The body is malformed: the scope is checked before it is read.
        sent = {**JSON, **headers}
        response = client.request(method, path, content=BAD_BODY, headers=sent)
        assert response.status_code == 403, (method, path, response.text)
        assert response.json() == {"detail": f"this API key lacks the scope {missing!r}"}


def test_opening_a_ticket_with_a_key_needs_tickets_create(
    client: TestClient, tokens: dict[str, str]
) -> None:
    reader = bearer(new_key(client, tokens["admin"], "tickets:read")["key"])
    response = client.post(TICKETS, json=TICKET, headers=reader)
    assert response.status_code == 403
    assert response.json()["detail"] == "this API key lacks the scope 'tickets:create'"
    unknown = client.post(TICKETS, json=TICKET, headers=bearer("tfk_not-a-key"))
    assert unknown.status_code == 401 and unknown.headers["www-authenticate"] == "Bearer"


def test_a_revoked_key_gets_401_on_its_next_request(
    client: TestClient, tokens: dict[str, str]
) -> None:
    admin = bearer(tokens["admin"])
    key = new_key(client, tokens["admin"], "admin")
    assert client.get(TICKETS, headers=bearer(key["key"])).status_code == 200
    revoked = client.delete(f"{KEYS}/{key['id']}", headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None and revoked.json()["active"] is False
    for method, path in [("GET", TICKETS), ("GET", KEYS), ("POST", f"{TICKETS}/123456/close")]:
        response = client.request(method, path, headers=bearer(key["key"]))
        assert response.status_code == 401, (method, path)
    assert client.post(TICKETS, json=TICKET, headers=bearer(key["key"])).status_code == 401
    again = client.delete(f"{KEYS}/{key['id']}", headers=admin)
    assert again.status_code == 200 and again.json()["revoked_at"] == revoked.json()["revoked_at"]
    assert client.delete(f"{KEYS}/424242", headers=admin).status_code == 404
    [item] = client.get(KEYS, headers=admin).json()["items"]
    assert item["active"] is False  # listed still, as revoked


def test_an_expired_key_gets_401(
    client: TestClient, tokens: dict[str, str], database_url: str
) -> None:
    soon = datetime.now(UTC) + timedelta(days=1)
    key = new_key(client, tokens["admin"], "tickets:read", expires_at=soon.isoformat())
    assert key["expires_at"] is not None and key["active"] is True
    assert client.get(TICKETS, headers=bearer(key["key"])).status_code == 200
    engine = make_engine(database_url)  # the day passes
    with make_sessionmaker(engine).begin() as session:
        past = datetime.now(UTC) - timedelta(seconds=1)
        session.execute(update(ApiKeyRow).where(ApiKeyRow.id == key["id"]).values(expires_at=past))
    engine.dispose()
    assert client.get(TICKETS, headers=bearer(key["key"])).status_code == 401
    [item] = client.get(KEYS, headers=bearer(tokens["admin"])).json()["items"]
    assert item["active"] is False and item["revoked_at"] is None


def test_expiry_times_are_kept_in_utc_whatever_their_offset(
    client: TestClient, tokens: dict[str, str]
) -> None:
    """PostgreSQL refuses offsets beyond ±15:59, which ISO 8601 and Python allow."""
    body = {"name": "crm", "scopes": ["admin"], "expires_at": "2468-12-27T13:42:49.7+19:50"}
    response = client.post(KEYS, json=body, headers=bearer(tokens["admin"]))
    assert response.status_code == 201, response.text
    assert response.json()["expires_at"] == "2468-12-26T17:52:49.700000Z"
    body["expires_at"] = "9999-12-31T23:00:00-05:00"  # past year 9999 in UTC
    response = client.post(KEYS, json=body, headers=bearer(tokens["admin"]))
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "body",
    [
        {"name": "crm", "scopes": []},
        {"name": "crm", "scopes": ["tickets:delete"]},
        {"name": "", "scopes": ["admin"]},
        {"name": "a\x00b", "scopes": ["admin"]},
        {"name": "crm", "scopes": ["admin"], "expires_at": "2001-01-01T00:00:00Z"},
        {"name": "crm", "scopes": ["admin"], "expires_at": "2999-01-01T00:00:00"},  # no zone
        {"name": "crm", "scopes": ["admin"], "secret": "mine"},
        {"scopes": ["admin"]},
    ],
)
def test_bad_key_requests_are_422(
    client: TestClient, tokens: dict[str, str], body: dict[str, Any]
) -> None:
    response = client.post(KEYS, json=body, headers=bearer(tokens["admin"]))
    assert response.status_code == 422, response.text


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_only_admins_manage_keys(client: TestClient, tokens: dict[str, str], role: str) -> None:
    headers = bearer(tokens[role])
    assert client.get(KEYS, headers=headers).status_code == 403
    body = {"name": "x", "scopes": ["admin"]}
    assert client.post(KEYS, json=body, headers=headers).status_code == 403
    assert client.delete(f"{KEYS}/1", headers=headers).status_code == 403
    assert client.get(KEYS).status_code == 401


def test_require_scope_admits_admins_and_keys_holding_the_scope(
    client: TestClient, tokens: dict[str, str]
) -> None:
    admin = tokens["admin"]
    events_key = bearer(new_key(client, admin, "events:read", name="feed")["key"])
    hooks_key = bearer(new_key(client, admin, "webhooks:admin")["key"])
    everything = bearer(new_key(client, admin, "admin", name="ops")["key"])
    assert client.get("/api/v1/probe/events", headers=bearer(admin)).json() == {
        "caller": "agent admin"
    }
    assert client.get("/api/v1/probe/events", headers=events_key).json() == {"caller": "key feed"}
    assert client.get("/api/v1/probe/events", headers=everything).json() == {"caller": "key ops"}
    denied = client.get("/api/v1/probe/events", headers=hooks_key)
    assert denied.status_code == 403
    assert denied.json()["detail"] == "this API key lacks the scope 'events:read'"
    agent = client.get("/api/v1/probe/events", headers=bearer(tokens["agent"]))
    assert agent.status_code == 403 and agent.json()["detail"] == "admin role required"
    assert client.get("/api/v1/probe/events").status_code == 401
    # Router- or route-level, the scope is checked before the body.
    sent = {**JSON, **events_key}
    response = client.post("/api/v1/probe/webhooks", content=BAD_BODY, headers=sent)
    assert response.status_code == 403
    assert response.json()["detail"] == "this API key lacks the scope 'webhooks:admin'"
    ok = client.post("/api/v1/probe/webhooks", json={"n": 1}, headers=hooks_key)
    assert ok.status_code == 200 and ok.json() == {"n": 1}
