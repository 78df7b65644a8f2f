"""Invites on SQLite and PostgreSQL: an admin's one-time link for an agent to set a password,
mailed through the outbox and audit-logged; read, then used once; expired, replaced, or for an
inactive agent, it is gone (410); a password shorter than 12 characters is refused."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from shared.db import invites
from shared.db.tables import AgentInviteRow, AgentRow, NotificationRow
from tests.builders import agent_headers, bearer, create_agents, person
from tests.intake.sign_in_helpers import ME, sign_in, stored, use_cheap_hashes

INVITES = "/api/v1/auth/invites"
NEW_PASSWORD = "a long and new password"
PORTAL = "https://help.example.com/desk"


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_hashes(monkeypatch)


@pytest.fixture
def client(client_for: Callable[..., TestClient]) -> TestClient:
    return client_for(portal_url=PORTAL, invite_lifetime_hours=24, desk_name="Acme help desk")


@pytest.fixture
def admin(database_url: str) -> dict[str, str]:
    return agent_headers(database_url, "root", "admin", "Ruth Root")


def invite(client: TestClient, admin: dict[str, str], handle: str = "jane") -> str:
    """Invite `handle`; the token of the link."""
    answer = client.post(f"/api/v1/admin/agents/{handle}/invite", headers=admin)
    assert answer.status_code == 201, answer.text
    url = answer.json()["url"]
    assert url.startswith(f"{PORTAL}/agent/invite/")
    return str(url.rsplit("/", 1)[1])


def test_an_invite_is_mailed_and_sets_a_password_once(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    [api_token] = create_agents(database_url, person("jane", "agent", name="Jane Doe"))
    before = datetime.now(UTC)
    answer = client.post("/api/v1/admin/agents/jane/invite", headers=admin)
    assert answer.status_code == 201
    url, expires_at = answer.json()["url"], datetime.fromisoformat(answer.json()["expires_at"])
    assert before + timedelta(hours=24) <= expires_at <= datetime.now(UTC) + timedelta(hours=24)
    token = url.rsplit("/", 1)[1]
    with stored(database_url) as db:
        [mail] = db.scalars(select(NotificationRow)).all()
        hashes = db.scalars(select(AgentInviteRow.token_hash)).all()
    assert (mail.recipient_email, mail.ticket, mail.status) == ("jane@example.com", "-", "queued")
    # No usable link in the outbox: notify makes it from the mail's key as it sends it.
    assert token not in mail.body and invites.INVITE_LINK in mail.body
    assert "Ruth Root invited you" in mail.body
    assert mail.subject == "Your invitation to Acme help desk"
    assert hashes and token not in hashes[0]  # kept hashed
    log = client.get("/api/v1/admin/audit?entity=agent&entity_id=jane", headers=admin).json()
    assert log["items"][0]["summary"] == (
        "invited agent 'jane' to set a password (mailed to jane@example.com)"
    )
    assert token not in str(log)

    read = client.get(f"{INVITES}/{token}")
    assert read.status_code == 200
    assert read.json() == {"handle": "jane", "name": "Jane Doe", "email": "jane@example.com"}
    short = client.post(f"{INVITES}/{token}", json={"password": "eleven char"})
    assert short.status_code == 422
    assert client.post(f"{INVITES}/{token}", json={"password": NEW_PASSWORD}).status_code == 204
    signed_in = sign_in(client, "jane@example.com", NEW_PASSWORD)
    assert signed_in.status_code == 201
    # Once only.
    again = client.post(f"{INVITES}/{token}", json={"password": "another password!"})
    assert again.status_code == 410
    assert client.get(f"{INVITES}/{token}").status_code == 410
    assert sign_in(client, "jane@example.com", "another password!").status_code == 401
    assert client.get(ME, headers=bearer(api_token)).status_code == 200


def test_setting_a_password_through_an_invite_ends_the_agents_sessions(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    create_agents(database_url, person("jane", "agent"))
    first = invite(client, admin)
    assert client.post(f"{INVITES}/{first}", json={"password": NEW_PASSWORD}).status_code == 204
    session = bearer(sign_in(client, "jane@example.com", NEW_PASSWORD).json()["token"])
    second = invite(client, admin)
    changed = client.post(f"{INVITES}/{second}", json={"password": "yet another one"})
    assert changed.status_code == 204
    assert client.get(ME, headers=session).status_code == 401


def test_an_expired_or_replaced_invite_is_gone(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    create_agents(database_url, person("jane", "agent"))
    replaced = invite(client, admin)
    current = invite(client, admin)
    assert client.get(f"{INVITES}/{replaced}").status_code == 410
    assert client.get(f"{INVITES}/{current}").status_code == 200
    with stored(database_url) as db:
        db.execute(update(AgentInviteRow).values(expires_at=datetime.now(UTC)))
    gone = client.post(f"{INVITES}/{current}", json={"password": NEW_PASSWORD})
    assert gone.status_code == 410
    assert "expired" in gone.json()["detail"]
    assert client.get(f"{INVITES}/no-such-invite").status_code == 404
    unknown = client.post(f"{INVITES}/no-such-invite", json={"password": NEW_PASSWORD})
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "invite not found"})


def test_an_inactive_agent_is_not_invited_and_their_invite_is_gone(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    create_agents(database_url, person("jane", "agent"))
    token = invite(client, admin)
    with stored(database_url) as db:
        db.execute(update(AgentRow).where(AgentRow.handle == "jane").values(active=False))
    assert client.get(f"{INVITES}/{token}").status_code == 410
    refused = client.post("/api/v1/admin/agents/jane/invite", headers=admin)
    assert refused.status_code == 409


def test_only_admins_invite(client: TestClient, admin: dict[str, str], database_url: str) -> None:
    [token] = create_agents(database_url, person("jane", "agent"))
    assert client.post("/api/v1/admin/agents/jane/invite").status_code == 401
    forbidden = client.post("/api/v1/admin/agents/jane/invite", headers=bearer(token))
    assert forbidden.status_code == 403
    assert client.post("/api/v1/admin/agents/nobody/invite", headers=admin).status_code == 404
