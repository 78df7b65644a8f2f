"""Single sign-on against a real OpenID Connect provider that this module starts
(`oidc-provider-mock`, a process of its own on a free port, stopped at the end: the fixture
proves it gone). Each test runs the authorization code flow with PKCE over HTTP, as the
console does, picking the user on the provider's authorization form; the API verifies the ID
token itself (discovery, the provider's keys, iss, aud, exp, nonce) on SQLite and PostgreSQL.
"""

import base64
import hashlib
import secrets
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlparse

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from services import processes
from shared.db.tables import AgentRow
from tests.builders import bearer, create_agents, person
from tests.intake.sign_in_helpers import ME, stored
from tests.processes import alive, family, kill_all, wait_gone

OIDC = "/api/v1/auth/oidc"
CLIENT_ID = "ticketflow-console"
CALLBACK = "http://127.0.0.1:8002/agent/oidc/callback"


@dataclass(frozen=True)
class Provider:
    issuer: str
    log: Path

    def requests_to(self, path: str) -> int:
        """How many requests for `path` the provider has answered (from its access log)."""
        return sum(f'"GET {path} ' in line for line in self.log.read_text().splitlines())


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    """`oidc-provider-mock --port P`, until the module's tests are done; then stopped, and
    shown to be: its processes gone, its port free."""
    command = shutil.which("oidc-provider-mock", path=str(Path(sys.executable).parent))
    assert command, "oidc-provider-mock is a dev dependency (make install)"
    port = processes.free_port()
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [command, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=processes.die_with_parent(),
        )
    issuer = f"http://127.0.0.1:{port}"
    started = family(proc.pid)
    try:
        processes.wait_healthy(f"{issuer}/.well-known/openid-configuration", proc=proc)
        started = family(proc.pid)
        yield Provider(issuer=issuer, log=log)
    finally:
        processes.terminate([proc])
        survivors = wait_gone(started, timeout=10)
        kill_all(survivors | family(proc.pid))
    assert not survivors, [p.command for p in survivors if alive(p)]
    assert not processes.port_taken(port)


def id_token(
    provider: Provider,
    *,
    email: str,
    verified: bool = True,
    nonce: str = "nonce-1",
    client_id: str = CLIENT_ID,
) -> str:
    """An ID token for a new user of the provider with this address, as the console gets one:
    the authorization request (with PKCE), the user picked on the provider's form, the
    code exchanged at the token endpoint."""
    sub = f"user-{uuid.uuid4().hex[:8]}"
    claims = {"email": email, "email_verified": verified, "name": "Someone"}
    with httpx.Client(base_url=provider.issuer, timeout=10) as idp:
        assert idp.put(f"/users/{quote(sub)}", json=claims).status_code == 204
        verifier = secrets.token_urlsafe(32)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        query = {
            "client_id": client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "openid email profile",
            "state": secrets.token_urlsafe(8),
            "nonce": nonce,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
        form = idp.get(f"/oauth2/authorize?{urlencode(query)}")
        assert form.status_code == 200 and "sub" in form.text  # the provider's form
        authorized = idp.post(f"/oauth2/authorize?{urlencode(query)}", data={"sub": sub})
        assert authorized.status_code == 302, authorized.text
        back = urlparse(authorized.headers["location"])
        assert back._replace(query="").geturl() == CALLBACK
        returned = parse_qs(back.query)
        assert returned["state"] == [query["state"]]
        tokens = idp.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": returned["code"][0],
                "redirect_uri": CALLBACK,
                "client_id": client_id,
                "client_secret": "console-secret",
                "code_verifier": verifier,
            },
        )
    assert tokens.status_code == 200, tokens.text
    token: str = tokens.json()["id_token"]
    return token


@pytest.fixture
def client(client_for: Callable[..., TestClient], provider: Provider) -> TestClient:
    return client_for(
        oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID, oidc_client_secret="console-secret"
    )


def sign_in(client: TestClient, token: str, nonce: str = "nonce-1") -> Any:
    return client.post(OIDC, json={"id_token": token, "nonce": nonce})


def test_an_agent_signs_in_with_the_providers_id_token(
    client: TestClient, provider: Provider, database_url: str
) -> None:
    create_agents(database_url, person("jane", "agent", name="Jane"))
    answer = sign_in(client, id_token(provider, email="JANE@example.com"))
    assert answer.status_code == 201, answer.text
    started = answer.json()
    assert started["agent"]["handle"] == "jane"
    assert started["must_enrol_two_factor"] is False
    assert client.get(ME, headers=bearer(started["token"])).json()["email"] == "jane@example.com"
    # The provider's keys are kept: a second sign-in fetches neither them nor discovery.
    discovery = "/.well-known/openid-configuration"
    fetched = provider.requests_to("/jwks"), provider.requests_to(discovery)
    assert fetched[0] >= 1 and fetched[1] >= 2  # the fixture asked for discovery too
    assert sign_in(client, id_token(provider, email="jane@example.com")).status_code == 201
    assert (provider.requests_to("/jwks"), provider.requests_to(discovery)) == fetched


def test_an_address_no_active_agent_has_is_refused(
    client: TestClient, provider: Provider, database_url: str
) -> None:
    refused = sign_in(client, id_token(provider, email="stranger@example.com"))
    assert (refused.status_code, refused.json()) == (
        403,
        {"detail": "no active agent has this address"},
    )
    create_agents(database_url, person("gone", "agent"))
    with stored(database_url) as db:
        db.execute(update(AgentRow).where(AgentRow.handle == "gone").values(active=False))
    assert sign_in(client, id_token(provider, email="gone@example.com")).status_code == 403


def test_an_address_the_provider_has_not_verified_is_refused(
    client: TestClient, provider: Provider, database_url: str
) -> None:
    create_agents(database_url, person("jane", "agent"))
    refused = sign_in(client, id_token(provider, email="jane@example.com", verified=False))
    assert refused.status_code == 403
    assert refused.json() == {"detail": "the identity provider has not verified this address"}


def test_tokens_that_do_not_verify_are_401(
    client: TestClient, provider: Provider, database_url: str
) -> None:
    create_agents(database_url, person("jane", "agent"))
    good = id_token(provider, email="jane@example.com")
    header, payload, signature = good.split(".")
    forged_claims = base64.urlsafe_b64decode(payload + "==").replace(b"jane@", b"jana@")
    forged_payload = base64.urlsafe_b64encode(forged_claims).rstrip(b"=").decode()
    forged = ".".join((header, forged_payload, signature))
    for token, nonce in [
        (good, "another-nonce"),  # not the nonce the console sent
        (id_token(provider, email="jane@example.com", client_id="other-app"), "nonce-1"),
        (forged, "nonce-1"),
        ("not.a.token", "nonce-1"),
        ("garbage", "nonce-1"),
    ]:
        answer = sign_in(client, token, nonce)
        assert (answer.status_code, answer.json()) == (
            401,
            {"detail": "the ID token is not valid"},
        ), token[:40]
    assert sign_in(client, good).status_code == 201


def test_oidc_is_404_when_not_set_up(client_for: Callable[..., TestClient]) -> None:
    client = client_for()
    answer = client.post(OIDC, json={"id_token": "x.y.z", "nonce": "n"})
    assert answer.status_code == 404


def test_an_unreachable_provider_is_503(client_for: Callable[..., TestClient]) -> None:
    nowhere = f"http://127.0.0.1:{processes.free_port()}"
    client = client_for(oidc_issuer=nowhere, oidc_client_id=CLIENT_ID)
    answer = client.post(OIDC, json={"id_token": "x.y.z", "nonce": "n"})
    assert (answer.status_code, answer.json()) == (
        503,
        {"detail": "the identity provider is unavailable"},
    )
