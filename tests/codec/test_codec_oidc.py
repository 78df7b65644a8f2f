"""A Temporal UI signed in with SSO passes its user's OIDC access token to the codec server
("pass access token"): the codec verifies it as a JWT against the issuer's keys, fetched over
HTTP from an issuer this module serves (discovery and JWKS, on a free port, stopped at the
end), and maps its verified address to an active agent."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from services import processes
from services.codec.app import create_app
from tests.builders import bearer
from tests.codec.helpers import body, codec_settings, demo_database, plain

AUDIENCE = "temporal-ui"


class Issuer:
    """An identity provider's discovery document and keys, served over HTTP; it signs tokens
    with its key as a provider signs its access tokens."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.key = RSAKey.generate_key(2048, parameters={"kid": "issuer-1"})

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet([self.key]).as_dict(private=False))

    def access_token(self, *, key: RSAKey | None = None, **claims: Any) -> str:
        now = int(time.time())
        values = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "user-1",
            "iat": now,
            "exp": now + 300,
            "email": "vera@example.com",
            "email_verified": True,
            **claims,
        }
        signer = key or self.key
        return jwt.encode({"alg": "RS256", "kid": signer.kid}, values, signer)


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    port = processes.free_port()
    found = Issuer(f"http://127.0.0.1:{port}")
    documents = {
        "/.well-known/openid-configuration": {"issuer": found.url, "jwks_uri": f"{found.url}/jwks"},
        "/jwks": found.jwks(),
    }

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            document = documents.get(self.path)
            content = json.dumps(document).encode()
            self.send_response(200 if document else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    assert not thread.is_alive() and not processes.port_taken(port)


@pytest.fixture
def codec(issuer: Issuer, tmp_path: Path) -> Iterator[TestClient]:
    with demo_database(tmp_path) as url:
        settings = codec_settings(url, oidc_issuer=issuer.url, codec_oidc_audience=AUDIENCE)
        with TestClient(create_app(settings), client=("192.0.2.7", 50000)) as client:
            yield client


def status(codec: TestClient, token: str) -> int:
    code: int = codec.post("/decode", json=body(plain("x")), headers=bearer(token)).status_code
    return code


def test_an_access_token_with_an_agents_verified_address_decodes(
    codec: TestClient, issuer: Issuer
) -> None:
    assert status(codec, issuer.access_token()) == 200
    assert status(codec, issuer.access_token(email="JANE@example.com")) == 200


def test_an_address_no_active_agent_has_or_unverified_is_403(
    codec: TestClient, issuer: Issuer
) -> None:
    assert status(codec, issuer.access_token(email="stranger@example.com")) == 403
    assert status(codec, issuer.access_token(email_verified=False)) == 403
    assert status(codec, issuer.access_token(email=None)) == 403


def test_access_tokens_that_do_not_verify_are_401(codec: TestClient, issuer: Issuer) -> None:
    now = int(time.time())
    other_key = RSAKey.generate_key(2048, parameters={"kid": "issuer-1"})
    for token in (
        issuer.access_token(aud="another-api"),
        issuer.access_token(iss="https://elsewhere.example.com"),
        issuer.access_token(exp=now - 3600, iat=now - 7200),
        issuer.access_token(key=other_key),  # its key id, another key: forged
        "not.a.jwt",
    ):
        assert status(codec, token) == 401, token[:40]
