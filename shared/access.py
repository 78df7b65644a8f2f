"""Credentials: agent API tokens and integration API keys (both stored hashed), requester
access tokens (derived), and the signed, expiring links to a ticket's page in the portal."""

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

# The fixed tokens of config/demo.yaml: public, so never valid in production.
DEMO_TOKENS = ("dev-jane-token", "dev-john-token", "dev-vera-token")


def new_agent_token() -> str:
    return "tf_" + secrets.token_urlsafe(32)


# Integration keys are recognisable by their prefix (secret scanners, logs, our own lookup).
API_KEY_PREFIX = "tfk_"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def is_api_key(token: str) -> bool:
    return token.startswith(API_KEY_PREFIX)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def requester_token(secret_key: str, number: str) -> str:
    """The access token of ticket `number`: an HMAC, so nothing secret is stored or sent
    through workflow history, and the notify activity can put it in the acknowledgement."""
    digest = hmac.new(secret_key.encode(), f"ticket:{number}".encode(), hashlib.sha256)
    return digest.hexdigest()[:40]


def requester_token_valid(secret_key: str, number: str, token: str) -> bool:
    return hmac.compare_digest(requester_token(secret_key, number), token)


# Links to a ticket's page in the portal carry a credential of their own: signed, for one
# ticket, until it expires. It is never the permanent access token above (a mail forwarded or
# left in an inbox stops working), and its purpose prefix keeps its HMAC from ever equalling
# a requester token's.
LINK_CREDENTIAL_PREFIX = "tl1."
_LINK_PURPOSE = "ticket-link:v1"
_LINK_SIGNATURE_CHARS = 32  # base64url: 192 bits


def _link_signature(secret_key: str, number: str, expires: int) -> str:
    message = f"{_LINK_PURPOSE}:{number}:{expires}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:_LINK_SIGNATURE_CHARS]


def link_credential(secret_key: str, number: str, expires_at: datetime) -> str:
    """`tl1.<number>.<expiry, Unix seconds>.<signature>`: URL-safe as it is."""
    expires = int(expires_at.timestamp())
    return (
        f"{LINK_CREDENTIAL_PREFIX}{number}.{expires}.{_link_signature(secret_key, number, expires)}"
    )


def invite_token(secret_key: str, notification_key: str) -> str:
    """An invite's token: keyed by the idempotency key of the mail that carries it, so that
    notify makes it again at delivery and no token is ever stored (only its hash)."""
    mac = hmac.new(secret_key.encode(), b"agent-invite\x00" + notification_key.encode(), "sha256")
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def new_link_credential(secret_key: str, number: str, *, now: datetime, lifetime: timedelta) -> str:
    return link_credential(secret_key, number, now + lifetime)


def is_link_credential(token: str) -> bool:
    return token.startswith(LINK_CREDENTIAL_PREFIX)


def link_credential_valid(secret_key: str, number: str, credential: str, now: datetime) -> bool:
    """Whether `credential` was signed under `secret_key` for ticket `number` and has not
    expired at `now`. The signature is compared in constant time, and before anything about
    the credential is believed."""
    if not is_link_credential(credential) or not credential.isascii():
        return False
    parts = credential.removeprefix(LINK_CREDENTIAL_PREFIX).split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 12:
        return False
    linked, expiry, signature = parts
    expected = _link_signature(secret_key, linked, int(expiry))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        return False
    return linked == number and now.timestamp() < int(expiry)


def link_credential_expiry(credential: str) -> datetime | None:
    """When a well-formed credential says it expires (unverified: check it first)."""
    parts = credential.removeprefix(LINK_CREDENTIAL_PREFIX).split(".")
    if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) > 12:
        return None
    return datetime.fromtimestamp(int(parts[1]), UTC)


def ticket_page_url(portal_url: str, number: str, credential: str) -> str:
    """The portal's link for a mail: opening it signs the browser in for the ticket, then
    redirects to the ticket's page without the credential in the URL."""
    return f"{portal_url.rstrip('/')}/t/{number}?k={credential}"
