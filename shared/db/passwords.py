"""Agents' passwords: argon2id hashes (argon2-cffi's parameters, RFC 9106's second
recommendation), set with `ticketflow agents set-password` or through an invite, checked at
sign-in. Setting a password ends the agent's sessions (a reset must shut out whoever knew the
old one)."""

import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.db import agent_sessions
from shared.db.tables import AgentRow
from shared.domain.text import input_text_problem

MIN_PASSWORD_CHARS = 12
# Hashing is costly by design: longer input is refused before it is hashed.
MAX_PASSWORD_CHARS = 1024


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()  # argon2id


@cache
def _dummy_hash() -> str:
    """A hash to check a password against when no agent has the address given, so that the
    answer takes as long as for a wrong password."""
    return _hasher().hash(secrets.token_urlsafe(16))


def password_problem(password: str) -> str | None:
    """Why `password` may not be set, or None if it may."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"must have at least {MIN_PASSWORD_CHARS} characters"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"may have at most {MAX_PASSWORD_CHARS} characters"
    return input_text_problem(password, multiline=False)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def matches(stored: str | None, password: str) -> bool:
    """Whether `password` is the one `stored` hashes; with nothing stored, a dummy hash is
    checked all the same (and False answered), so both take the same time."""
    try:
        return _hasher().verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def outdated(stored: str) -> bool:
    """Whether a hash was made with other parameters than today's (rehash on sign-in)."""
    return _hasher().check_needs_rehash(stored)


def active_agents_with_email(session: Session, email: str) -> list[AgentRow]:
    """The active agents with this address (compared case-insensitively), by handle."""
    query = select(AgentRow).where(
        func.lower(AgentRow.email) == email.strip().lower(), AgentRow.active.is_(True)
    )
    return list(session.scalars(query.order_by(AgentRow.handle)))


def agent_with_password(session: Session, email: str, password: str) -> AgentRow | None:
    """The active agent with this address whose password this is; one hash is checked even
    when no agent has the address (the same time for a wrong address as for a wrong
    password)."""
    candidates = [a for a in active_agents_with_email(session, email) if a.password_hash]
    for agent in candidates:
        if matches(agent.password_hash, password):
            return agent
    if not candidates:
        matches(None, password)
    return None


def set_password(session: Session, agent: AgentRow, password: str) -> int:
    """Store the hash of `password` (which `password_problem` must have passed) and end the
    agent's sessions; how many ended."""
    agent.password_hash = hash_password(password)
    session.flush()
    return agent_sessions.end_all(session, agent.handle)
