"""Agents sign in to the API with a password, on SQLite and PostgreSQL: the same answer for a
wrong address and a wrong password, throttling per account and per client, sessions as bearer
credentials with idle and absolute ends, signing out (here and everywhere), and a deactivated
agent shut out at once. Two-factor, invites and OIDC have modules of their own."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from shared.db import passwords
from shared.db.tables import AgentRow, AgentSessionRow, SignInFailureRow
from tests.builders import agent_headers, bearer
from tests.intake.sign_in_helpers import (
    ME,
    PASSWORD,
    SESSIONS,
    agent_with_password,
    session_of,
    sign_in,
    stored,
    use_cheap_hashes,
)

WRONG = {"detail": "wrong email or password"}


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_hashes(monkeypatch)


def test_passwords_are_hashed_with_argon2id_at_its_recommended_parameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.undo()  # the real parameters, here
    stored_hash = passwords.hash_password(PASSWORD)
    assert stored_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.matches(stored_hash, PASSWORD)
    assert not passwords.matches("not a hash", PASSWORD)


def test_a_password_sign_in_gives_a_session_the_api_takes_as_the_agent(
    client: TestClient, database_url: str
) -> None:
    agent_with_password(database_url, "jane", role="admin")
    before = datetime.now(UTC)
    response = sign_in(client, "Jane@Example.com ", PASSWORD)  # the address as typed
    assert response.status_code == 201, response.text
    started = response.json()
    assert started["agent"] == {
        "handle": "jane",
        "name": "Jane",
        "email": "jane@example.com",
        "role": "admin",
        "two_factor": False,
    }
    assert started["must_enrol_two_factor"] is False
    assert started["idle_timeout_seconds"] == 60 * 60  # the default SESSION_IDLE_MINUTES
    expires_at = datetime.fromisoformat(started["expires_at"])
    assert before + timedelta(hours=12) <= expires_at <= datetime.now(UTC) + timedelta(hours=12)
    session = {"Authorization": f"Bearer {started['token']}"}
    me = client.get(ME, headers=session)
    assert me.status_code == 200
    assert me.json() == started["agent"]
    # Every route takes it as it takes the agent's API token.
    assert client.get("/api/v1/admin/agents", headers=session).status_code == 200
    assert client.get("/api/v1/tickets", headers=session).status_code == 200
    with stored(database_url) as db:
        hashes = db.scalars(select(AgentSessionRow.token_hash)).all()
    assert len(hashes) == 1 and started["token"] not in hashes[0]  # kept hashed


def test_a_session_has_its_agents_role(client: TestClient, database_url: str) -> None:
    agent_with_password(database_url, "vera", role="viewer")
    session = session_of(client, "vera")
    assert client.get("/api/v1/tickets", headers=session).status_code == 200
    refused = client.get("/api/v1/admin/agents", headers=session)
    assert refused.status_code == 403
    assert client.get(ME, headers=session).json()["role"] == "viewer"


def test_a_wrong_address_and_a_wrong_password_get_the_same_answer(
    client: TestClient, database_url: str
) -> None:
    agent_with_password(database_url, "jane")
    agent_with_password(database_url, "gone")
    agent_headers(database_url, "nopass", "agent")  # an agent with no password
    with stored(database_url) as db:
        db.execute(update(AgentRow).where(AgentRow.handle == "gone").values(active=False))
    answers = [
        sign_in(client, "nobody@example.com", PASSWORD),
        sign_in(client, "jane@example.com", PASSWORD + "!"),
        sign_in(client, "gone@example.com", PASSWORD),  # inactive agents cannot sign in
        sign_in(client, "nopass@example.com", PASSWORD),
        sign_in(client, "not an address", PASSWORD),
    ]
    assert [(a.status_code, a.json()) for a in answers] == [(401, WRONG)] * len(answers)


def test_an_unknown_address_checks_a_password_hash_all_the_same(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The time of a wrong address is the time of a wrong password: one argon2 check."""
    agent_with_password(database_url, "jane")
    checks: list[str] = []
    verify = PasswordHasher.verify

    def counted(self: PasswordHasher, stored_hash: str | bytes, password: str | bytes) -> bool:
        checks.append(str(stored_hash)[:9])
        return verify(self, stored_hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counted)
    assert sign_in(client, "nobody@example.com").status_code == 401
    assert sign_in(client, "jane@example.com", "wrong password!").status_code == 401
    assert checks == ["$argon2id", "$argon2id"]


def test_bad_sign_in_bodies_are_422(client: TestClient) -> None:
    for body in (
        {"email": "jane@example.com"},
        {"email": "jane@example.com", "password": ""},
        {"email": "jane@example.com", "password": "x" * 1025},
        {"email": "jane@example.com", "password": "tab\there"},
        {"email": "jane@example.com", "password": PASSWORD, "extra": 1},
        {"email": "", "password": PASSWORD},
    ):
        assert client.post(SESSIONS, json=body).status_code == 422, body


@pytest.fixture
def throttled_client(client_for: Callable[..., TestClient]) -> TestClient:
    return client_for(
        sign_in_failures_per_account=3, sign_in_failures_per_client=5, sign_in_window_minutes=10
    )


def test_wrong_tries_on_one_account_are_throttled(
    throttled_client: TestClient, database_url: str
) -> None:
    client = throttled_client
    agent_with_password(database_url, "jane")
    for _ in range(3):
        assert sign_in(client, "jane@example.com", "not the password").status_code == 401
    refused = sign_in(client, "jane@example.com", PASSWORD)  # even the right one, now
    assert refused.status_code == 429
    assert "too many wrong tries" in refused.json()["detail"]
    assert 590 <= int(refused.headers["Retry-After"]) <= 600
    # Another account from the same client is not throttled yet (5 per client).
    agent_with_password(database_url, "john")
    assert sign_in(client, "john@example.com").status_code == 201
    # The window passes: the account may try again.
    with stored(database_url) as db:
        db.execute(update(SignInFailureRow).values(at=SignInFailureRow.at - timedelta(minutes=10)))
    assert sign_in(client, "jane@example.com").status_code == 201


def test_an_unknown_address_is_throttled_like_a_known_one(
    throttled_client: TestClient,
) -> None:
    answers = [sign_in(throttled_client, "nobody@example.com").status_code for _ in range(4)]
    assert answers == [401, 401, 401, 429]


def test_wrong_tries_from_one_client_are_throttled(
    throttled_client: TestClient, database_url: str
) -> None:
    client = throttled_client
    agent_with_password(database_url, "jane")
    for i in range(5):
        assert sign_in(client, f"guess{i}@example.com").status_code == 401
    refused = sign_in(client, "jane@example.com")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0


def test_a_sign_in_forgives_the_accounts_wrong_tries(
    throttled_client: TestClient, database_url: str
) -> None:
    client = throttled_client
    agent_with_password(database_url, "jane")
    for _ in range(2):
        assert sign_in(client, "jane@example.com", "not the password").status_code == 401
    assert sign_in(client, "jane@example.com").status_code == 201
    for _ in range(2):
        assert sign_in(client, "jane@example.com", "not the password").status_code == 401
    assert sign_in(client, "jane@example.com").status_code == 201


def test_signing_out_ends_that_session_only(client: TestClient, database_url: str) -> None:
    api_token = agent_with_password(database_url, "jane")
    first, second = session_of(client, "jane"), session_of(client, "jane")
    assert client.delete(f"{SESSIONS}/current", headers=first).status_code == 204
    assert client.get(ME, headers=first).status_code == 401
    assert client.get(ME, headers=second).status_code == 200
    assert client.get(ME, headers=api_token).status_code == 200
    # An API token is no session to sign out of.
    refused = client.delete(f"{SESSIONS}/current", headers=api_token)
    assert refused.status_code == 403


def test_signing_out_everywhere_ends_every_session_of_the_agent(
    client: TestClient, database_url: str
) -> None:
    api_token = agent_with_password(database_url, "jane")
    agent_with_password(database_url, "john")
    mine = [session_of(client, "jane") for _ in range(3)]
    johns = session_of(client, "john")
    assert client.delete(SESSIONS, headers=mine[0]).status_code == 204
    assert [client.get(ME, headers=s).status_code for s in mine] == [401, 401, 401]
    assert client.get(ME, headers=johns).status_code == 200
    assert client.get(ME, headers=api_token).status_code == 200  # tokens are for programs
    assert client.delete(SESSIONS).status_code == 401


def test_a_session_ends_after_its_idle_time(
    client_for: Callable[..., TestClient], database_url: str
) -> None:
    client = client_for(session_idle_minutes=1, session_max_hours=1)
    agent_with_password(database_url, "jane")
    started = sign_in(client, "jane@example.com").json()
    assert started["idle_timeout_seconds"] == 60
    session = {"Authorization": f"Bearer {started['token']}"}
    # Used 90 s ago: within the idle time and the minute of precision; the request counts.
    move_last_request(database_url, seconds_ago=90)
    assert client.get(ME, headers=session).status_code == 200
    assert seconds_since_last_request(database_url) < 5
    # Unused for its idle time and the minute of precision: ended, and deleted.
    move_last_request(database_url, seconds_ago=121)
    assert client.get(ME, headers=session).status_code == 401
    assert session_count(database_url) == 0


def test_the_last_request_is_noted_at_most_once_a_minute(
    client: TestClient, database_url: str
) -> None:
    agent_with_password(database_url, "jane")
    session = session_of(client, "jane")
    move_last_request(database_url, seconds_ago=30)
    assert client.get(ME, headers=session).status_code == 200
    assert 29 <= seconds_since_last_request(database_url) <= 35  # not written
    move_last_request(database_url, seconds_ago=61)
    assert client.get(ME, headers=session).status_code == 200
    assert seconds_since_last_request(database_url) < 5


def test_a_session_ends_at_its_absolute_end_however_busy(
    client: TestClient, database_url: str
) -> None:
    agent_with_password(database_url, "jane")
    session = session_of(client, "jane")
    with stored(database_url) as db:
        db.execute(update(AgentSessionRow).values(expires_at=datetime.now(UTC)))
    assert client.get(ME, headers=session).status_code == 401
    assert session_count(database_url) == 0


def test_a_deactivated_agents_sessions_end_at_once(client: TestClient, database_url: str) -> None:
    admin = agent_headers(database_url, "root", "admin")
    agent_with_password(database_url, "jane")
    agent_with_password(database_url, "john")
    jane, john = session_of(client, "jane"), session_of(client, "john")
    # Deactivated in the database itself: refused on the next request.
    with stored(database_url) as db:
        db.execute(update(AgentRow).where(AgentRow.handle == "john").values(active=False))
    assert client.get(ME, headers=john).status_code == 401
    # Through the admin API: refused, and the sessions are gone.
    patched = client.patch("/api/v1/admin/agents/jane", json={"active": False}, headers=admin)
    assert patched.status_code == 200
    assert client.get(ME, headers=jane).status_code == 401
    with stored(database_url) as db:
        left = db.scalars(select(AgentSessionRow.agent)).all()
    assert left == ["john"]
    # Active again: the old session stays ended; a new sign-in works.
    again = client.patch("/api/v1/admin/agents/jane", json={"active": True}, headers=admin)
    assert again.status_code == 200
    assert client.get(ME, headers=jane).status_code == 401
    assert sign_in(client, "jane@example.com").status_code == 201


def test_an_admin_signs_an_agent_out_everywhere(client: TestClient, database_url: str) -> None:
    admin = agent_headers(database_url, "root", "admin")
    agent_with_password(database_url, "jane")
    sessions = [session_of(client, "jane"), session_of(client, "jane")]
    signed_out = client.post("/api/v1/admin/agents/jane/sign-out", headers=admin)
    assert signed_out.status_code == 204
    assert [client.get(ME, headers=s).status_code for s in sessions] == [401, 401]
    log = client.get("/api/v1/admin/audit?entity=agent&entity_id=jane", headers=admin)
    assert "signed agent 'jane' out everywhere (2 sessions)" in log.text
    assert client.post("/api/v1/admin/agents/nobody/sign-out", headers=admin).status_code == 404
    assert client.post("/api/v1/admin/agents/jane/sign-out", headers=sessions[0]).status_code == 401


def test_unknown_or_malformed_session_tokens_are_401(client: TestClient) -> None:
    for token in ("tfs_", "tfs_nothing-of-ours", "tfs_" + "x" * 500):
        answer = client.get(ME, headers=bearer(token))
        assert answer.status_code == 401, token
        on_a_ticket = client.get("/api/v1/tickets/100001", headers=bearer(token))
        assert on_a_ticket.status_code == 401, token


def move_last_request(database_url: str, *, seconds_ago: int) -> None:
    with stored(database_url) as db:
        moment = datetime.now(UTC) - timedelta(seconds=seconds_ago)
        db.execute(update(AgentSessionRow).values(last_seen_at=moment, created_at=moment))


def seconds_since_last_request(database_url: str) -> float:
    with stored(database_url) as db:
        last = db.scalar(select(AgentSessionRow.last_seen_at))
    assert last is not None
    moment: datetime = last if last.tzinfo else last.replace(tzinfo=UTC)
    return (datetime.now(UTC) - moment).total_seconds()


def session_count(database_url: str) -> int:
    with stored(database_url) as db:
        return db.scalar(select(func.count()).select_from(AgentSessionRow)) or 0
