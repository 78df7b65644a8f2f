"""The portal's browser session: one signed cookie holding a random session id (which CSRF
tokens are bound to) and the link credentials of the tickets this browser is signed in for.

The cookie is HttpOnly, SameSite=Lax, and Secure when the portal's URL is https. It holds no
permanent secret: each credential expires on its own (LINK_LIFETIME_DAYS), and the signature
only keeps a browser from forging or mixing cookies."""

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from shared.access import is_link_credential, link_credential_expiry
from shared.settings import Settings

COOKIE = "tf_portal"
# Newest first, at most this many: the cookie stays well under browsers' 4 KB.
MAX_TICKETS = 20
_PURPOSE = b"portal-session:v1:"
_CSRF_PURPOSE = "portal-csrf:v1:"
_KEY_PURPOSE = "portal-idempotency:v1:"


def _sign(secret_key: str, payload: str) -> str:
    digest = hmac.new(secret_key.encode(), _PURPOSE + payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class PortalSession:
    sid: str
    tickets: dict[str, str] = field(default_factory=dict)  # number -> link credential
    changed: bool = False

    def credential(self, number: str) -> str | None:
        return self.tickets.get(number)

    def sign_in(self, number: str, credential: str) -> None:
        kept = {n: c for n, c in self.tickets.items() if n != number}
        self.tickets = dict(list({number: credential, **kept}.items())[:MAX_TICKETS])
        self.changed = True

    def sign_out(self, number: str) -> None:
        if self.tickets.pop(number, None) is not None:
            self.changed = True


def load(request: Request, settings: Settings, now: datetime) -> PortalSession:
    """The request's session, or a new one (no cookie, or one that is not ours)."""
    raw = request.cookies.get(COOKIE, "")
    payload, _, signature = raw.rpartition(".")
    if payload and hmac.compare_digest(_sign(settings.secret_key, payload), signature):
        try:
            data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            return _session(data, now)
        except (ValueError, TypeError, AttributeError):
            pass
    return PortalSession(sid=secrets.token_urlsafe(18), changed=True)


def _session(data: dict[str, object], now: datetime) -> PortalSession:
    sid, tickets = data["sid"], data.get("t", {})
    if not isinstance(sid, str) or not isinstance(tickets, dict):
        raise TypeError("not a portal session")
    live = {}
    for number, credential in tickets.items():
        expiry = link_credential_expiry(credential) if is_link_credential(credential) else None
        if expiry is not None and expiry > now:
            live[str(number)] = credential
    return PortalSession(sid=sid, tickets=live, changed=len(live) != len(tickets))


def save(response: Response, session: PortalSession, settings: Settings) -> None:
    data = json.dumps({"sid": session.sid, "t": session.tickets}, separators=(",", ":"))
    payload = base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")
    response.set_cookie(
        COOKIE,
        f"{payload}.{_sign(settings.secret_key, payload)}",
        max_age=settings.link_lifetime_days * 24 * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.portal_is_https,
    )


def csrf_token(settings: Settings, session: PortalSession) -> str:
    """The token every state-changing form of this session carries: derived, not stored."""
    message = (_CSRF_PURPOSE + session.sid).encode()
    digest = hmac.new(settings.secret_key.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_valid(settings: Settings, session: PortalSession, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(
        csrf_token(settings, session).encode(), (token or "").encode()
    )


def idempotency_key(settings: Settings, session: PortalSession, form_key: str) -> str:
    """The Idempotency-Key sent for a form: bound to this session, so a key copied from
    another browser's form never answers that browser's ticket."""
    message = f"{_KEY_PURPOSE}{session.sid}:{form_key}".encode()
    digest = hmac.new(settings.secret_key.encode(), message, hashlib.sha256).hexdigest()
    return f"portal-{digest[:40]}"
