"""Our signatures are Standard Webhooks signatures: the `standardwebhooks` library (what a
receiver would use) verifies them, and refuses them when anything signed was changed."""

import base64
import json
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shared.domain.webhook_signing import (
    BadSecret,
    new_secret,
    secret_key,
    signature,
    signed_headers,
)

EVENT = {"id": "100000-3", "type": "ticket.responded", "ticket": "100000", "note": "é ✓"}


def body() -> bytes:
    return json.dumps(EVENT, ensure_ascii=False).encode()


def test_a_receiver_verifies_our_signature_with_the_standardwebhooks_library() -> None:
    secret = new_secret()
    headers = signed_headers(secret, "msg_1_100000-3", int(time.time()), body())
    assert Webhook(secret).verify(body(), headers) == EVENT


@pytest.mark.parametrize("change", ["body", "id", "timestamp", "secret"])
def test_a_signature_does_not_verify_once_anything_signed_changed(change: str) -> None:
    secret, now = new_secret(), int(time.time())
    headers = signed_headers(secret, "msg_1_100000-3", now, body())
    sent = body()
    if change == "body":
        sent = sent.replace(b"100000-3", b"100000-4")
    elif change == "id":
        headers["webhook-id"] = "msg_1_100000-4"
    elif change == "timestamp":
        headers["webhook-timestamp"] = str(now - 1)
    else:
        secret = new_secret()
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(sent, headers)


def test_the_published_example_of_the_convention() -> None:
    """The example of the Standard Webhooks documentation, signature for signature."""
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    got = signature(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}')
    assert got == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_a_new_secret_is_32_random_bytes_in_the_convention_s_form() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


@pytest.mark.parametrize(
    "secret",
    [
        "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # no prefix
        "whsec_not base64!",
        "whsec_" + base64.b64encode(b"short").decode(),
        "whsec_" + base64.b64encode(bytes(65)).decode(),
    ],
)
def test_a_malformed_secret_is_refused(secret: str) -> None:
    with pytest.raises(BadSecret):
        secret_key(secret)
