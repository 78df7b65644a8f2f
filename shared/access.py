"""Credentials: agent API tokens and integration API keys (both stored hashed), and requester
access tokens (derived)."""

import hashlib
import hmac
import secrets

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
