"""Two-factor sign-in (TOTP, with codes pyotp computes as an authenticator app would) on
SQLite and PostgreSQL: setting it up and confirming it, codes and recovery codes at sign-in
(each good once), turning it off, an admin's reset, and the desk that requires it of admins."""

import time
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shared.crypto.key_ring import KeyRing, new_entry
from shared.db import two_factor
from shared.db.tables import AgentRow, RecoveryCodeRow
from tests.builders import agent_headers, bearer
from tests.intake.sign_in_helpers import (
    ME,
    session_of,
    sign_in,
    stored,
    use_cheap_hashes,
)
from tests.intake.sign_in_helpers import agent_with_password as with_password

TWO_FACTOR = "/api/v1/auth/two-factor"
ASKED = {"detail": "enter the code from your authenticator app", "two_factor": "required"}


@pytest.fixture(autouse=True)
def _cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    use_cheap_hashes(monkeypatch)


def later_code(totp: pyotp.TOTP) -> str:
    """The code of the next time step (within the step of drift allowed): a code once
    accepted is never accepted again, nor one of an earlier step."""
    return totp.at(time.time() + totp.interval)


def enrol(client: TestClient, session: dict[str, str]) -> tuple[pyotp.TOTP, list[str]]:
    """Set two-factor up and confirm it; the app's TOTP and the recovery codes."""
    setup = client.post(TWO_FACTOR, headers=session)
    assert setup.status_code == 201, setup.text
    totp = pyotp.TOTP(setup.json()["secret"])
    assert pyotp.parse_uri(setup.json()["otpauth_uri"]).secret == totp.secret
    confirmed = client.post(f"{TWO_FACTOR}/confirm", json={"code": totp.now()}, headers=session)
    assert confirmed.status_code == 200, confirmed.text
    return totp, confirmed.json()["recovery_codes"]


def test_setting_up_two_factor_then_signing_in_with_a_code(
    client: TestClient, database_url: str
) -> None:
    with_password(database_url, "jane")
    session = session_of(client, "jane")
    setup = client.post(TWO_FACTOR, headers=session).json()
    uri = setup["otpauth_uri"]
    assert uri.startswith("otpauth://totp/") and "jane%40example.com" in uri
    totp = pyotp.TOTP(setup["secret"])
    # Pending until confirmed: sign-in asks no code yet, and a wrong code confirms nothing.
    assert sign_in(client, "jane@example.com").status_code == 201
    wrong = client.post(f"{TWO_FACTOR}/confirm", json={"code": "000000"}, headers=session)
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "code"]
    confirmed = client.post(f"{TWO_FACTOR}/confirm", json={"code": totp.now()}, headers=session)
    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get(ME, headers=session).json()["two_factor"] is True
    with stored(database_url) as db:
        hashes = db.scalars(select(RecoveryCodeRow.code_hash)).all()
    assert len(hashes) == 10 and not set(codes) & set(hashes)  # kept hashed
    # Now the password alone is not enough, and says so apart from a wrong password.
    asked = sign_in(client, "jane@example.com")
    assert (asked.status_code, asked.json()) == (401, ASKED)
    assert sign_in(client, "jane@example.com", "wrong password!!").json() == {
        "detail": "wrong email or password"
    }
    assert sign_in(client, "jane@example.com", totp="123456").json() == ASKED
    code = later_code(totp)
    signed_in = sign_in(client, "jane@example.com", totp=code)
    assert signed_in.status_code == 201, signed_in.text
    assert signed_in.json()["agent"]["two_factor"] is True
    # A code is good once, even within its 30 seconds.
    assert sign_in(client, "jane@example.com", totp=code).json() == ASKED


def test_a_recovery_code_stands_in_for_a_code_once(client: TestClient, database_url: str) -> None:
    with_password(database_url, "jane")
    _, codes = enrol(client, session_of(client, "jane"))
    typed = codes[0].upper().replace("-", " ")  # as read off paper
    assert sign_in(client, "jane@example.com", totp=typed).status_code == 201
    assert sign_in(client, "jane@example.com", totp=codes[0]).json() == ASKED
    assert sign_in(client, "jane@example.com", totp=codes[1]).status_code == 201


def test_turning_two_factor_off_takes_a_code(client: TestClient, database_url: str) -> None:
    with_password(database_url, "jane")
    session = session_of(client, "jane")
    totp, codes = enrol(client, session)
    assert client.post(TWO_FACTOR, headers=session).status_code == 409  # on already
    off = client.request("DELETE", TWO_FACTOR, json={"code": "999999"}, headers=session)
    assert off.status_code == 422
    off = client.request("DELETE", TWO_FACTOR, json={"code": later_code(totp)}, headers=session)
    assert off.status_code == 204
    assert client.get(ME, headers=session).json()["two_factor"] is False
    assert sign_in(client, "jane@example.com").status_code == 201
    again = client.request("DELETE", TWO_FACTOR, json={"code": codes[0]}, headers=session)
    assert again.status_code == 409
    with stored(database_url) as db:
        assert db.scalars(select(RecoveryCodeRow)).all() == []


def test_confirming_with_nothing_pending_is_409(client: TestClient, database_url: str) -> None:
    with_password(database_url, "jane")
    session = session_of(client, "jane")
    answer = client.post(f"{TWO_FACTOR}/confirm", json={"code": "123456"}, headers=session)
    assert answer.status_code == 409


def test_wrong_codes_are_throttled_like_wrong_passwords(
    client_for: Callable[..., TestClient], database_url: str
) -> None:
    client = client_for(sign_in_failures_per_account=2)
    with_password(database_url, "jane")
    session = session_of(client, "jane")
    totp, _ = enrol(client, session)
    assert sign_in(client, "jane@example.com", totp="000000").json() == ASKED
    off = client.request("DELETE", TWO_FACTOR, json={"code": "000000"}, headers=session)
    assert off.status_code == 422
    refused = sign_in(client, "jane@example.com", totp=later_code(totp))
    assert refused.status_code == 429 and "Retry-After" in refused.headers
    off = client.request("DELETE", TWO_FACTOR, json={"code": "000000"}, headers=session)
    assert off.status_code == 429


def test_an_admin_resets_an_agents_two_factor(client: TestClient, database_url: str) -> None:
    admin = agent_headers(database_url, "root", "admin")
    with_password(database_url, "jane")
    enrol(client, session_of(client, "jane"))
    assert sign_in(client, "jane@example.com").json() == ASKED
    reset = client.post("/api/v1/admin/agents/jane/reset-two-factor", headers=admin)
    assert reset.status_code == 204
    assert sign_in(client, "jane@example.com").status_code == 201
    with stored(database_url) as db:
        agent = db.get(AgentRow, "jane")
        assert agent is not None and agent.totp_secret is None
    log = client.get("/api/v1/admin/audit?entity=agent&entity_id=jane", headers=admin).json()
    assert "reset the two-factor of agent 'jane'" in [e["summary"] for e in log["items"]]
    not_admin = with_password(database_url, "john")
    refused = client.post("/api/v1/admin/agents/jane/reset-two-factor", headers=not_admin)
    assert refused.status_code == 403
    unknown = client.post("/api/v1/admin/agents/nobody/reset-two-factor", headers=admin)
    assert unknown.status_code == 404


def test_where_required_an_admin_sets_up_two_factor_before_anything_else(
    client_for: Callable[..., TestClient], database_url: str
) -> None:
    client = client_for(require_two_factor_for_admins=True)
    api_token = with_password(database_url, "root", role="admin")
    with_password(database_url, "jane")
    started = sign_in(client, "root@example.com").json()
    assert started["must_enrol_two_factor"] is True
    session = bearer(started["token"])
    refused = client.get("/api/v1/admin/agents", headers=session)
    assert (refused.status_code, refused.json()) == (403, {"detail": "set up two-factor first"})
    assert client.get("/api/v1/tickets", headers=session).status_code == 403
    assert client.get(ME, headers=session).status_code == 200  # /api/v1/auth/* only
    assert client.get("/api/v1/admin/agents", headers=api_token).status_code == 200
    # Agents are not asked.
    assert sign_in(client, "jane@example.com").json()["must_enrol_two_factor"] is False
    totp, codes = enrol(client, session)
    assert client.get("/api/v1/admin/agents", headers=session).status_code == 200
    later = sign_in(client, "root@example.com", totp=later_code(totp)).json()
    assert later["must_enrol_two_factor"] is False
    # Turned off: the admin's sessions may again only set it up.
    assert turn_off(client, session, codes[0]).status_code == 204
    assert client.get("/api/v1/admin/agents", headers=session).status_code == 403


def turn_off(client: TestClient, session: dict[str, str], code: str) -> Any:
    return client.request("DELETE", TWO_FACTOR, json={"code": code}, headers=session)


def test_two_factor_routes_need_an_agent(client: TestClient, database_url: str) -> None:
    assert client.post(TWO_FACTOR).status_code == 401
    assert client.post(TWO_FACTOR, headers=bearer("tfs_unknown")).status_code == 401
    viewer = with_password(database_url, "vera", role="viewer")  # any role may
    assert client.post(TWO_FACTOR, headers=viewer).status_code == 201
    bad = client.post(f"{TWO_FACTOR}/confirm", json={"code": "1\n2"}, headers=viewer)
    assert bad.status_code == 422


def test_secrets_are_sealed_under_the_encryption_keys_and_a_rotation_reseals_them(
    client_for: Callable[..., TestClient], database_url: str
) -> None:
    """With ENCRYPTION_KEYS the database holds no usable secret; a secret stored plain (before
    sealing) still signs in, and `reseal` (keys rotate) seals it under the active key."""
    old, new = new_entry("old"), new_entry("new")
    client = client_for(encryption_keys=old)
    with_password(database_url, "jane")
    totp, _ = enrol(client, session_of(client, "jane"))
    with stored(database_url) as db:
        [secret] = db.scalars(select(AgentRow.totp_secret).where(AgentRow.handle == "jane"))
    assert secret is not None and secret.startswith("sealed:old:")
    assert totp.secret not in secret

    rotated = KeyRing.parse(f"{new},{old}")
    with stored(database_url) as db:
        jane = db.get(AgentRow, "jane")
        assert jane is not None
        jane.totp_secret = totp.secret  # as stored before secrets were sealed
        assert two_factor.reseal(db, rotated) == 1
        assert (jane.totp_secret or "").startswith("sealed:new:")
    with stored(database_url) as db:
        assert two_factor.reseal(db, rotated) == 0
    client = client_for(encryption_keys=f"{new},{old}")
    signed_in = sign_in(client, "jane@example.com", totp=later_code(totp))
    assert signed_in.status_code == 201, signed_in.text
