"""Throttling of wrong sign-ins, in the database so that every intake process counts the same
tries: SIGN_IN_FAILURES_PER_ACCOUNT wrong tries on one account (the address tried, whether or
not an agent has it: the answer must not tell) or SIGN_IN_FAILURES_PER_CLIENT from one client
within SIGN_IN_WINDOW_MINUTES, and further tries wait until the window has passed the oldest
try that counts. A throttled try is not checked, and not counted."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.orm import Session

from shared.db.tables import SignInFailureRow
from shared.settings import Settings


@dataclass(frozen=True)
class Limits:
    per_account: int
    per_client: int
    window: timedelta

    @classmethod
    def of(cls, settings: Settings) -> "Limits":
        return cls(
            per_account=settings.sign_in_failures_per_account,
            per_client=settings.sign_in_failures_per_client,
            window=timedelta(minutes=settings.sign_in_window_minutes),
        )


def account_key(email: str) -> str:
    return email.strip().lower()[:320]


def retry_after(
    session: Session, *, account: str, client: str, now: datetime, limits: Limits
) -> int | None:
    """Seconds until a try on `account` from `client` is allowed again; None if it is now."""
    waits = [
        _wait(session, SignInFailureRow.account == account, limits.per_account, now, limits),
        _wait(session, SignInFailureRow.client == client, limits.per_client, now, limits),
    ]
    return max((wait for wait in waits if wait is not None), default=None)


def _wait(
    session: Session, which: ColumnElement[bool], limit: int, now: datetime, limits: Limits
) -> int | None:
    # The limit-th most recent failure in the window: once it leaves, fewer than `limit` stay.
    at = session.scalar(
        select(SignInFailureRow.at)
        .where(which, SignInFailureRow.at > now - limits.window)
        .order_by(SignInFailureRow.at.desc())
        .offset(limit - 1)
        .limit(1)
    )
    if at is None:
        return None
    at = at if at.tzinfo is not None else at.replace(tzinfo=now.tzinfo)
    return max(1, math.ceil((at + limits.window - now).total_seconds()))


def record_failure(
    session: Session, *, account: str, client: str, now: datetime, limits: Limits
) -> None:
    """Count one wrong try; failures older than the window are cleared away."""
    session.execute(
        delete(SignInFailureRow)
        .where(SignInFailureRow.at <= now - limits.window)
        .execution_options(synchronize_session=False)
    )
    session.add(SignInFailureRow(at=now, account=account, client=client[:64]))
    session.flush()


def forgive(session: Session, account: str) -> None:
    """After a sign-in: the account's wrong tries no longer count (the client's still do)."""
    session.execute(
        delete(SignInFailureRow)
        .where(SignInFailureRow.account == account)
        .execution_options(synchronize_session=False)
    )
