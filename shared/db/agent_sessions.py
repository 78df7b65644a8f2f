"""Agents' sign-in sessions, kept server-side: the token (`tfs_…`) is shown once at sign-in
and only its hash is stored. A session ends at its absolute end (SESSION_MAX_HOURS after
sign-in), after its idle time without a request (SESSION_IDLE_MINUTES), when it is signed out,
and at once when its agent is deactivated (an inactive agent's sessions are never accepted).

The last request's time is noted at most once a minute (a busy console does not write on
every request), so an idle session ends between its idle time and a minute more after the
last request: never earlier."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from shared.access import hash_token
from shared.db.api_keys import utc
from shared.db.tables import AgentRow, AgentSessionRow

SESSION_PREFIX = "tfs_"
LAST_SEEN_PRECISION = timedelta(minutes=1)


def new_session_token() -> str:
    return SESSION_PREFIX + secrets.token_urlsafe(32)


def is_session_token(token: str) -> bool:
    return token.startswith(SESSION_PREFIX)


@dataclass(frozen=True)
class NewSession:
    token: str
    expires_at: datetime
    idle_seconds: int


@dataclass(frozen=True)
class SessionAgent:
    """The agent a valid session token stands for, and the session's own state."""

    session_id: int
    handle: str
    name: str
    email: str
    role: str
    must_enrol_two_factor: bool


def start(
    session: Session,
    *,
    agent: str,
    method: str,
    now: datetime,
    idle: timedelta,
    lifetime: timedelta,
    must_enrol_two_factor: bool,
) -> NewSession:
    """A new session of `agent`; the agent's sessions that have ended are cleared away."""
    _clear_ended(session, agent, now)
    token = new_session_token()
    row = AgentSessionRow(
        token_hash=hash_token(token),
        agent=agent,
        method=method,
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime,
        idle_seconds=int(idle.total_seconds()),
        must_enrol_two_factor=must_enrol_two_factor,
    )
    session.add(row)
    session.flush()
    return NewSession(token=token, expires_at=now + lifetime, idle_seconds=row.idle_seconds)


# Asked on every request of a signed-in agent: one Core statement, compiled once.
_SESSION_AGENT = (
    select(
        AgentSessionRow.id,
        AgentSessionRow.last_seen_at,
        AgentSessionRow.expires_at,
        AgentSessionRow.idle_seconds,
        AgentSessionRow.must_enrol_two_factor,
        AgentRow.handle,
        AgentRow.name,
        AgentRow.email,
        AgentRow.role,
    )
    .join(AgentRow, AgentRow.handle == AgentSessionRow.agent)
    .where(AgentSessionRow.token_hash == bindparam("token_hash"), AgentRow.active.is_(True))
)


def authenticate(session: Session, token: str, now: datetime) -> SessionAgent | None:
    """The active agent whose session this token is, if the session has not ended; notes the
    request's time (at most once a minute). An ended session is deleted."""
    row = session.connection().execute(_SESSION_AGENT, {"token_hash": hash_token(token)}).first()
    if row is None:
        return None
    last_seen = utc(row.last_seen_at) or now
    expires_at = utc(row.expires_at) or now
    if ended(now, last_seen=last_seen, expires_at=expires_at, idle_seconds=row.idle_seconds):
        end(session, row.id)
        return None
    if now - last_seen >= LAST_SEEN_PRECISION:
        _touch(session, row.id, now)
    return SessionAgent(
        session_id=row.id,
        handle=row.handle,
        name=row.name,
        email=row.email,
        role=row.role,
        must_enrol_two_factor=row.must_enrol_two_factor,
    )


def ended(now: datetime, *, last_seen: datetime, expires_at: datetime, idle_seconds: int) -> bool:
    idle_until = last_seen + timedelta(seconds=idle_seconds) + LAST_SEEN_PRECISION
    return now >= expires_at or now >= idle_until


def _touch(session: Session, session_id: int, now: datetime) -> None:
    # Conditional: of two processes noting the same minute, one writes.
    session.execute(
        update(AgentSessionRow)
        .where(
            AgentSessionRow.id == session_id,
            AgentSessionRow.last_seen_at <= now - LAST_SEEN_PRECISION,
        )
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def end(session: Session, session_id: int) -> bool:
    """Sign one session out; False if it had ended already."""
    result = session.execute(
        delete(AgentSessionRow)
        .where(AgentSessionRow.id == session_id)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def end_all(session: Session, agent: str) -> int:
    """Sign the agent out everywhere; how many sessions ended."""
    result = session.execute(
        delete(AgentSessionRow)
        .where(AgentSessionRow.agent == agent)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def require_enrolment(session: Session, agent: str, required: bool) -> None:
    """Whether the agent's sessions may only set up two-factor (and read /api/v1/auth)."""
    session.execute(
        update(AgentSessionRow)
        .where(AgentSessionRow.agent == agent)
        .values(must_enrol_two_factor=required)
        .execution_options(synchronize_session=False)
    )


def _clear_ended(session: Session, agent: str, now: datetime) -> None:
    rows = session.execute(
        select(
            AgentSessionRow.id,
            AgentSessionRow.last_seen_at,
            AgentSessionRow.expires_at,
            AgentSessionRow.idle_seconds,
        ).where(AgentSessionRow.agent == agent)
    ).all()
    gone = [
        row.id
        for row in rows
        if ended(
            now,
            last_seen=utc(row.last_seen_at) or now,
            expires_at=utc(row.expires_at) or now,
            idle_seconds=row.idle_seconds,
        )
    ]
    if gone:
        session.execute(
            delete(AgentSessionRow)
            .where(AgentSessionRow.id.in_(gone))
            .execution_options(synchronize_session=False)
        )
