"""Signing agents in, the use cases: with a password (and a code of the second factor when
they have one), or with an address an identity provider vouched for (OIDC; the route verifies
the ID token). Either starts a server-side session. Each runs in a worker thread (hashing and
the database); the routes translate their errors to HTTP.

Wrong tries (an unknown address, a wrong password, a wrong code) are counted per account and
per client, and a try over the limit is refused before anything is checked. A missing code is
not a wrong try: the console asks for it after the password."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from services.intake.auth_schemas import AgentAccount, SessionStarted
from shared.db import agent_sessions, passwords, sign_in_throttle, two_factor
from shared.db.sign_in_throttle import Limits
from shared.db.tables import AgentRow
from shared.domain.enums import Role
from shared.settings import Settings

WRONG_EMAIL_OR_PASSWORD = "wrong email or password"
TWO_FACTOR_REQUIRED = "enter the code from your authenticator app"
NO_SUCH_AGENT = "no active agent has this address"


class WrongCredentials(Exception):
    pass


class TwoFactorRequired(Exception):
    pass


class Throttled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many wrong tries: retry in {retry_after} s")
        self.retry_after = retry_after


class NoSuchAgent(Exception):
    pass


@dataclass(frozen=True)
class Attempt:
    email: str
    password: str
    code: str | None
    client: str


def with_password(
    sessions: sessionmaker[Session], settings: Settings, attempt: Attempt, now: datetime
) -> SessionStarted:
    limits = Limits.of(settings)
    account = sign_in_throttle.account_key(attempt.email)
    refusal: Exception | None = None
    with sessions.begin() as session:
        wait = sign_in_throttle.retry_after(
            session, account=account, client=attempt.client, now=now, limits=limits
        )
        if wait is not None:
            raise Throttled(wait)
        agent = passwords.agent_with_password(session, attempt.email, attempt.password)
        if agent is None:
            refusal = WrongCredentials()
        elif two_factor.is_on(agent) and not attempt.code:
            refusal = TwoFactorRequired()  # not counted: the usual first step
        elif two_factor.is_on(agent) and not two_factor.accepts(
            session, agent, attempt.code or "", now, keys=settings.key_ring
        ):
            refusal = TwoFactorRequired()
        if refusal is None:
            assert agent is not None
            sign_in_throttle.forgive(session, account)
            if passwords.outdated(agent.password_hash or ""):
                agent.password_hash = passwords.hash_password(attempt.password)
            return start(session, settings, agent, method="password", now=now)
        if attempt.code or isinstance(refusal, WrongCredentials):
            sign_in_throttle.record_failure(
                session, account=account, client=attempt.client, now=now, limits=limits
            )
    raise refusal


def with_identity(
    sessions: sessionmaker[Session], settings: Settings, email: str, now: datetime
) -> SessionStarted:
    """A session for the one active agent with this address (which the identity provider
    verified); an OIDC sign-in asks no code of ours (the provider has its own factors)."""
    with sessions.begin() as session:
        agents = passwords.active_agents_with_email(session, email)
        if len(agents) != 1:  # none, or an address two agents share: not one person's
            raise NoSuchAgent()
        return start(session, settings, agents[0], method="oidc", now=now)


def start(
    session: Session, settings: Settings, agent: AgentRow, *, method: str, now: datetime
) -> SessionStarted:
    enrolled = two_factor.is_on(agent)
    must_enrol = (
        method == "password"
        and settings.require_two_factor_for_admins
        and agent.role == Role.ADMIN.value
        and not enrolled
    )
    started = agent_sessions.start(
        session,
        agent=agent.handle,
        method=method,
        now=now,
        idle=timedelta(minutes=settings.session_idle_minutes),
        lifetime=timedelta(hours=settings.session_max_hours),
        must_enrol_two_factor=must_enrol,
    )
    return SessionStarted(
        token=started.token,
        expires_at=started.expires_at,
        idle_timeout_seconds=started.idle_seconds,
        agent=account_of(agent),
        must_enrol_two_factor=must_enrol,
    )


def account_of(agent: AgentRow) -> AgentAccount:
    return AgentAccount(
        handle=agent.handle,
        name=agent.name,
        email=agent.email,
        role=Role(agent.role),
        two_factor=two_factor.is_on(agent),
    )


def sign_out(sessions: sessionmaker[Session], session_id: int) -> None:
    with sessions.begin() as session:
        agent_sessions.end(session, session_id)


def sign_out_everywhere(sessions: sessionmaker[Session], handle: str) -> int:
    with sessions.begin() as session:
        return agent_sessions.end_all(session, handle)
