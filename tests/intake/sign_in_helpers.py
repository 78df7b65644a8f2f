"""What the sign-in tests share: agents with a password, signing in over the API, and the
stored rows a test moves through time (a session's last request, an invite's end)."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session

from shared.db import passwords
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import AgentRow
from tests.builders import bearer, create_agents, person

PASSWORD = "correct horse battery staple"
SESSIONS = "/api/v1/auth/sessions"
ME = "/api/v1/auth/me"


def use_cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id still, with the least memory and time: the production parameters (64 MiB,
    three passes) take most of a second a hash on a busy test machine."""
    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    dummy = cheap.hash("no agent has this password")
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: dummy)


@contextmanager
def stored(database_url: str) -> Iterator[Session]:
    """A session on the test's database, committed at the end."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            yield session
    finally:
        engine.dispose()


def agent_with_password(
    database_url: str, handle: str, role: str = "agent", password: str = PASSWORD
) -> dict[str, str]:
    """A new agent (address HANDLE@example.com) with a password; their API token's header."""
    [token] = create_agents(database_url, person(handle, role, name=handle.title()))
    with stored(database_url) as session:
        agent = session.get(AgentRow, handle)
        assert agent is not None
        passwords.set_password(session, agent, password)
    return bearer(token)


def sign_in(
    client: httpx.Client, email: str, password: str = PASSWORD, totp: str | None = None
) -> httpx.Response:
    body: dict[str, Any] = {"email": email, "password": password}
    if totp is not None:
        body["totp"] = totp
    return client.post(SESSIONS, json=body)


def session_of(client: httpx.Client, handle: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign `handle` in (no second factor); the session's Authorization header."""
    response = sign_in(client, f"{handle}@example.com", password)
    assert response.status_code == 201, response.text
    token = response.json()["token"]
    assert token.startswith("tfs_")
    return bearer(token)
