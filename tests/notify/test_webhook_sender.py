"""One webhook POST, against a real receiver on 127.0.0.1: signed, and sent only where the
SSRF rule allows once the name is resolved; the connection goes to the address that was
checked, under the URL's own host name."""

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from services.notify.webhook_sender import Sender
from shared.db.webhook_attempts import LeasedAttempt
from shared.domain.webhook_signing import new_secret
from shared.domain.webhook_urls import UrlPolicy
from tests.webhook_receiver import Receiver

EVENT = {"id": "100000-1", "type": "ticket.created", "ticket": "100000", "subject": "Ça va"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    server.start()
    yield server
    server.stop()


def claim(url: str, secret: str, attempts: int = 1) -> LeasedAttempt:
    return LeasedAttempt(
        delivery_id=1,
        attempt_id=1,
        attempts=attempts,
        first_attempt_at=datetime.now(UTC),
        subscription_id=7,
        ticket="100000",
        url=url,
        secret=secret,
        webhook_id="msg_7_100000-1",
        event=EVENT,
    )


def sender(policy: UrlPolicy, resolved: dict[str, list[str]]) -> Sender:
    return Sender(policy, timeout=5, concurrency=2, resolver=lambda host, _: resolved[host])


def test_a_delivery_is_signed_and_verifies(receiver: Receiver) -> None:
    secret = new_secret()
    with_sender = sender(UrlPolicy.of("test"), {})
    outcome = with_sender.send(claim(receiver.url, secret))
    with_sender.close()
    assert outcome.ok and outcome.status_code == 200 and outcome.error is None
    [got] = receiver.requests()
    assert Webhook(secret).verify(got.body, got.headers) == EVENT
    assert got.headers["webhook-id"] == "msg_7_100000-1"
    assert got.headers["content-type"] == "application/json"


def test_a_name_goes_to_its_checked_address_under_its_own_host_name(
    receiver: Receiver,
) -> None:
    name = sender(UrlPolicy.of("test"), {"hooks.localhost": ["127.0.0.1"]})
    outcome = name.send(claim(f"http://hooks.localhost:{receiver.port}/in", new_secret()))
    name.close()
    assert outcome.ok
    assert receiver.requests()[0].headers["host"] == f"hooks.localhost:{receiver.port}"


def test_a_name_resolving_inside_is_refused_at_delivery_without_connecting(
    receiver: Receiver,
) -> None:
    """In production a public-looking name that now resolves to loopback (DNS rebinding)."""
    rebound = sender(UrlPolicy.of("production"), {"hooks.example.com": ["127.0.0.1"]})
    outcome = rebound.send(claim(f"https://hooks.example.com:{receiver.port}/in", new_secret()))
    mixed = sender(UrlPolicy.of("production"), {"hooks.example.com": ["93.184.215.14", "10.0.0.7"]})
    mixed_outcome = mixed.send(claim("https://hooks.example.com/in", new_secret()))
    rebound.close()
    mixed.close()
    assert outcome.status_code is None and outcome.error is not None
    assert "refused: hooks.example.com resolves to 127.0.0.1, a loopback address" in outcome.error
    assert mixed_outcome.error is not None and "10.0.0.7, a private address" in mixed_outcome.error
    assert receiver.requests() == []


def test_failures_are_outcomes_with_their_reason(receiver: Receiver) -> None:
    receiver.answer = lambda _: 503
    failing = sender(UrlPolicy.of("test"), {})
    answered = failing.send(claim(receiver.url, new_secret()))
    receiver.stop()
    refused = failing.send(claim(receiver.url, new_secret()))
    failing.close()
    assert answered.status_code == 503 and answered.error == "HTTP 503: ok"
    assert refused.status_code is None and refused.error and "ConnectError" in refused.error
    assert refused.latency_ms >= 0


def certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for `name` (and its key), made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize(
    ("served_as", "ok"), [("hooks.localhost", True), ("evil.localhost", False)]
)
def test_https_to_a_checked_address_still_verifies_the_url_s_host_name(
    tmp_path: Path, served_as: str, ok: bool
) -> None:
    """The connection goes to the resolved address, and TLS checks the certificate against
    the URL's name (sent as SNI), not against the address."""
    cert, key = certificate(tmp_path, served_as)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    receiver = Receiver(tls=server_tls)
    receiver.start()
    trust = ssl.create_default_context(cafile=str(cert))
    pinned = Sender(
        UrlPolicy.of("test"),
        timeout=5,
        concurrency=1,
        resolver=lambda host, _: {"hooks.localhost": ["127.0.0.1"]}[host],
        verify=trust,
    )
    try:
        outcome = pinned.send(claim(f"https://hooks.localhost:{receiver.port}/in", new_secret()))
    finally:
        pinned.close()
        receiver.stop()
    if ok:
        assert outcome.ok, outcome.error
        assert receiver.requests()[0].headers["host"] == f"hooks.localhost:{receiver.port}"
    else:
        assert outcome.error is not None and "CERTIFICATE_VERIFY_FAILED" in outcome.error
        assert receiver.requests() == []
