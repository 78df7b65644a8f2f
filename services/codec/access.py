"""Who may see what the codec decrypts: an active agent, of any role (a viewer reads tickets
too). The CLI sends an agent's credential as the API takes it (their API token, or a sign-in
session's `tfs_…`); a Temporal UI signed in with SSO passes its OIDC access token, whose
verified address names the agent (CODEC_OIDC_AUDIENCE). In development only, a caller on
loopback that sends no credential at all is let in: the dev server's UI passes none.

401 for no credential, or one that is unknown, ended, expired or forged; 403 for a credential
that is no agent's (an integration's API key, an address no active agent has)."""

import ipaddress
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from shared.access import hash_token, is_api_key
from shared.db import agent_sessions, api_keys, directory, passwords
from shared.db.threads import in_thread
from shared.oidc import InvalidToken, OidcVerifier, ProviderUnavailable, UnverifiedEmail
from shared.settings import Settings

log = logging.getLogger(__name__)

DEVELOPMENT_CALLER = "development (loopback)"
# A loopback caller must also have asked for a loopback host: a page of another site whose
# name was rebound to 127.0.0.1 (DNS rebinding) names its own.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
NOT_VALID = "this credential is not valid"


@dataclass(frozen=True)
class Caller:
    """Who asked: an agent's handle (or DEVELOPMENT_CALLER), for the log of who decoded."""

    handle: str


class Refused(Exception):
    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code
        self.reason = reason


async def caller_of(
    request: Request,
    *,
    sessions: sessionmaker[Session],
    settings: Settings,
    verifier: OidcVerifier | None,
) -> Caller:
    authorization = request.headers.get("authorization")
    if authorization is None:
        if settings.environment == "development" and _on_loopback(request):
            return Caller(DEVELOPMENT_CALLER)
        raise Refused(401, "decoding needs an agent's credential (Authorization: Bearer …)")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Refused(401, "decoding needs an agent's credential (Authorization: Bearer …)")
    agent = await in_thread(_agent_with_credential, sessions, token)
    if agent is not None:
        return agent
    if verifier is not None and token.count(".") == 2:  # a JWT
        return await _agent_with_access_token(sessions, verifier, token)
    raise Refused(401, NOT_VALID)


def _agent_with_credential(sessions: sessionmaker[Session], token: str) -> Caller | None:
    """The active agent whose API token or sign-in session this is, as the API finds them;
    None for a credential of neither. Blocking: call it in a thread."""
    now = datetime.now(UTC)
    if agent_sessions.is_session_token(token):
        with sessions.begin() as session:  # the session's last use may be noted
            found = agent_sessions.authenticate(session, token, now)
        if found is not None and found.must_enrol_two_factor:
            raise Refused(403, "set up two-factor first")
        return None if found is None else Caller(found.handle)
    if is_api_key(token):
        with sessions.begin() as session:  # the key's last use may be noted
            key = api_keys.authenticate(session, token, now)
        if key is not None:
            raise Refused(403, "an integration's API key is not an agent's credential")
        return None
    with sessions() as session:
        agent = directory.agent_by_token_hash(session, hash_token(token))
    return None if agent is None else Caller(agent.handle)


async def _agent_with_access_token(
    sessions: sessionmaker[Session], verifier: OidcVerifier, token: str
) -> Caller:
    try:
        identity = await verifier.verify_access_token(token)
    except InvalidToken as err:
        raise Refused(401, NOT_VALID) from err
    except UnverifiedEmail as err:
        raise Refused(403, "the identity provider has not verified this address") from err
    except ProviderUnavailable as err:
        log.warning("the identity provider is unavailable: %s", err)
        raise Refused(503, "the identity provider is unavailable") from err
    handles = await in_thread(_agents_with_email, sessions, identity.email)
    if len(handles) != 1:  # none, or an address two agents share: not one person's
        raise Refused(403, "no active agent has this address")
    return Caller(handles[0])


def _agents_with_email(sessions: sessionmaker[Session], email: str) -> list[str]:
    with sessions() as session:
        return [agent.handle for agent in passwords.active_agents_with_email(session, email)]


def _on_loopback(request: Request) -> bool:
    try:
        client = ipaddress.ip_address(request.client.host if request.client else "")
    except ValueError:
        return False
    return client.is_loopback and request.url.hostname in LOOPBACK_HOSTS
