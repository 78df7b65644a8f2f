"""Agents' second factor: TOTP (RFC 6238, pyotp: 6 digits, 30-second steps, one step of
clock drift either way) with ten recovery codes, each good once in place of a code.

Set up in two steps, so that a secret never takes effect before the agent's app has shown it
works: `begin` keeps a pending secret, `confirm` (with a code of it) makes it the agent's and
issues the recovery codes (only their hashes are kept). A code is never accepted twice: the
last accepted time step is kept, and a later code must be of a later step.

Secrets are stored sealed under ENCRYPTION_KEYS' active key (AES-256-GCM, bound to the agent's
handle), as `sealed:<key id>:<base64>`; without keys (development) as they are. A secret stored
before sealing existed still works, and `reseal` (run by `ticketflow keys rotate`) seals it."""

import base64
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from shared.access import hash_token
from shared.crypto.key_ring import KeyRing, UnknownKeyEncryptionKey
from shared.db.tables import AgentRow, RecoveryCodeRow

RECOVERY_CODES = 10
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off paper
_CODE_GROUPS, _GROUP_CHARS = 4, 4  # 16 characters: about 79 bits
DRIFT_STEPS = 1
SEALED = "sealed"


class TwoFactorError(Exception):
    pass


class AlreadyOn(TwoFactorError):
    def __init__(self) -> None:
        super().__init__("two-factor is on already: turn it off first to set it up again")


class NothingPending(TwoFactorError):
    def __init__(self) -> None:
        super().__init__("no two-factor set-up is under way: start one first")


class NotOn(TwoFactorError):
    def __init__(self) -> None:
        super().__init__("two-factor is not on")


class WrongCode(TwoFactorError):
    def __init__(self) -> None:
        super().__init__("that code is not right: enter the code your authenticator app shows")


@dataclass(frozen=True)
class Setup:
    secret: str
    otpauth_uri: str


def is_on(agent: AgentRow) -> bool:
    return agent.totp_secret is not None


def begin(session: Session, agent: AgentRow, *, issuer: str, keys: KeyRing | None) -> Setup:
    """A new pending secret for the agent's app (replacing any pending one)."""
    if is_on(agent):
        raise AlreadyOn()
    secret = pyotp.random_base32()
    agent.totp_pending_secret = _sealed(keys, agent.handle, secret)
    session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=agent.email, issuer_name=issuer)
    return Setup(secret=secret, otpauth_uri=uri)


def confirm(
    session: Session, agent: AgentRow, code: str, now: datetime, *, keys: KeyRing | None
) -> list[str]:
    """Turn two-factor on with the pending secret, if `code` is one of its codes; the new
    recovery codes (shown once)."""
    pending = agent.totp_pending_secret
    if pending is None:
        raise NothingPending()
    step = _matching_step(_opened(keys, agent.handle, pending), code, now)
    if step is None:
        raise WrongCode()
    agent.totp_secret, agent.totp_pending_secret, agent.totp_last_step = pending, None, step
    session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.agent == agent.handle))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCodeRow(agent=agent.handle, code_hash=_code_hash(new)) for new in codes)
    session.flush()
    return codes


def turn_off(
    session: Session, agent: AgentRow, code: str, now: datetime, *, keys: KeyRing | None
) -> None:
    """Turn two-factor off, if `code` (a current code or a recovery code) is accepted."""
    if not is_on(agent):
        raise NotOn()
    if not accepts(session, agent, code, now, keys=keys):
        raise WrongCode()
    clear(session, agent)


def clear(session: Session, agent: AgentRow) -> bool:
    """Remove the agent's second factor (an admin's reset); whether it was on."""
    was_on = is_on(agent) or agent.totp_pending_secret is not None
    agent.totp_secret = agent.totp_pending_secret = agent.totp_last_step = None
    session.execute(delete(RecoveryCodeRow).where(RecoveryCodeRow.agent == agent.handle))
    session.flush()
    return was_on


def accepts(
    session: Session, agent: AgentRow, code: str, now: datetime, *, keys: KeyRing | None
) -> bool:
    """Whether `code` is a code of the agent's app not used before, or one of their unused
    recovery codes (used up by this)."""
    stored = agent.totp_secret
    if stored is None:
        return False
    step = _matching_step(_opened(keys, agent.handle, stored), code, now)
    if step is not None:
        # Conditional: of two sign-ins with one code, in any processes, one is accepted.
        result = session.execute(
            update(AgentRow)
            .where(
                AgentRow.handle == agent.handle,
                or_(AgentRow.totp_last_step.is_(None), AgentRow.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))
    normal = _normal_recovery_code(code)
    if normal is None:
        return False
    result = session.execute(
        update(RecoveryCodeRow)
        .where(
            RecoveryCodeRow.agent == agent.handle,
            RecoveryCodeRow.code_hash == hash_token(normal),
            RecoveryCodeRow.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def reseal(session: Session, keys: KeyRing) -> int:
    """Seal every secret not sealed under the active key (stored plain, or under an older
    key); how many. Commit to keep them."""
    done = 0
    for agent in session.scalars(
        select(AgentRow).where(
            or_(AgentRow.totp_secret.is_not(None), AgentRow.totp_pending_secret.is_not(None))
        )
    ):
        for column in ("totp_secret", "totp_pending_secret"):
            stored: str | None = getattr(agent, column)
            if stored is None or stored.startswith(f"{SEALED}:{keys.active}:"):
                continue
            setattr(agent, column, _sealed(keys, agent.handle, _opened(keys, agent.handle, stored)))
            done += 1
    session.flush()
    return done


def _associated(handle: str) -> bytes:
    return f"totp:{handle}".encode()


def _sealed(keys: KeyRing | None, handle: str, secret: str) -> str:
    if keys is None:
        return secret
    kek_id, sealed = keys.wrap(secret.encode(), _associated(handle))
    return f"{SEALED}:{kek_id}:{base64.urlsafe_b64encode(sealed).decode()}"


def _opened(keys: KeyRing | None, handle: str, stored: str) -> str:
    if not stored.startswith(f"{SEALED}:"):
        return stored  # stored before secrets were sealed, or without keys
    _, kek_id, encoded = stored.split(":", 2)
    if keys is None:
        raise UnknownKeyEncryptionKey(
            f"a two-factor secret is sealed under {kek_id!r} and ENCRYPTION_KEYS is unset"
        )
    return keys.unwrap(kek_id, base64.urlsafe_b64decode(encoded), _associated(handle)).decode()


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit() or not code.isascii():
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // totp.interval
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _new_recovery_code() -> str:
    groups = (
        "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_GROUP_CHARS))
        for _ in range(_CODE_GROUPS)
    )
    return "-".join(groups)


def _normal_recovery_code(code: str) -> str | None:
    """The code without spaces and dashes, lower-cased; None if it cannot be one."""
    normal = "".join(code.lower().replace("-", "").split())
    if len(normal) != _CODE_GROUPS * _GROUP_CHARS or not set(normal) <= set(_CODE_ALPHABET):
        return None
    return normal


def _code_hash(code: str) -> str:
    normal = _normal_recovery_code(code)
    assert normal is not None  # one of ours
    return hash_token(normal)
