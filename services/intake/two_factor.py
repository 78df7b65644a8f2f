"""`/api/v1/auth/two-factor`: a signed-in agent sets up a second factor (TOTP) for password
sign-in, confirms it with a code (and gets recovery codes), or turns it off with a code. Wrong
codes count as wrong sign-in tries (a stolen session must not guess its way to turning the
second factor off). Admins reset an agent's (services.intake.admin.agent_access)."""

from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.orm import Session

from services.intake.auth import AgentPrincipal, SignedInAgent
from services.intake.auth_schemas import CodeBody, RecoveryCodes, TwoFactorSetup
from services.intake.deps import SessionsDep, SettingsDep
from services.intake.errors import ErrorBody, invalid
from services.intake.sign_in_routes import THROTTLED, client_of, throttled
from services.tickets.errors import Conflict
from shared.db import agent_sessions, audit, sign_in_throttle, two_factor
from shared.db.sign_in_throttle import Limits
from shared.db.tables import AgentRow
from shared.domain.audit import AuditAction, AuditEntity
from shared.domain.enums import Role
from shared.domain.errors import NotFound
from shared.settings import Settings

router = APIRouter(prefix="/api/v1/auth/two-factor", tags=["auth"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorBody, "description": "Two-factor is on already"}},
)
def set_up_two_factor(
    agent: SignedInAgent, sessions: SessionsDep, settings: SettingsDep
) -> TwoFactorSetup:
    """Start setting up two-factor: a new secret for the authenticator app, which takes
    effect once confirmed with one of its codes."""
    with sessions.begin() as session:
        row = _row(session, agent)
        try:
            setup = two_factor.begin(
                session, row, issuer=settings.desk_name, keys=settings.key_ring
            )
        except two_factor.AlreadyOn as err:
            raise Conflict(str(err)) from err
    return TwoFactorSetup(secret=setup.secret, otpauth_uri=setup.otpauth_uri)


@router.post(
    "/confirm",
    responses={
        409: {"model": ErrorBody, "description": "No set-up is under way"},
        429: THROTTLED,
    },
)
def confirm_two_factor(
    body: CodeBody,
    agent: SignedInAgent,
    request: Request,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> RecoveryCodes:
    """Turn two-factor on with a code of the new secret; the answer holds ten recovery codes,
    each good once in place of a code. The agent's sessions that had to set it up may now
    call every route. A code that is not right is answered 422, as invalid input of `code`."""
    now, guard = datetime.now(UTC), _Guard(agent, request, settings)
    with sessions.begin() as session:
        guard.check(session, now)
        row = _row(session, agent)
        try:
            codes = two_factor.confirm(session, row, body.code, now, keys=settings.key_ring)
        except two_factor.NothingPending as err:
            raise Conflict(str(err)) from err
        except two_factor.WrongCode as err:
            guard.failed(session, now)
            wrong = err
        else:
            agent_sessions.require_enrolment(session, agent.handle, False)
            _audit(session, agent, on=True)
            return RecoveryCodes(recovery_codes=codes)
    raise invalid("body", "code", str(wrong))


@router.delete(
    "",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        409: {"model": ErrorBody, "description": "Two-factor is not on"},
        429: THROTTLED,
    },
)
def turn_off_two_factor(
    body: CodeBody,
    agent: SignedInAgent,
    request: Request,
    sessions: SessionsDep,
    settings: SettingsDep,
) -> Response:
    """Turn two-factor off, with a current code or a recovery code (one not right: 422, as
    invalid input of `code`). Where the desk requires it of admins, an admin's sessions may
    then only set it up again."""
    now, guard = datetime.now(UTC), _Guard(agent, request, settings)
    with sessions.begin() as session:
        guard.check(session, now)
        row = _row(session, agent)
        try:
            two_factor.turn_off(session, row, body.code, now, keys=settings.key_ring)
        except two_factor.NotOn as err:
            raise Conflict(str(err)) from err
        except two_factor.WrongCode as err:
            guard.failed(session, now)
            wrong = err
        else:
            if settings.require_two_factor_for_admins and row.role == Role.ADMIN.value:
                agent_sessions.require_enrolment(session, agent.handle, True)
            _audit(session, agent, on=False)
            return Response(status_code=status.HTTP_204_NO_CONTENT)
    raise invalid("body", "code", str(wrong))


class _Guard:
    """The sign-in throttle, for wrong codes of a signed-in agent."""

    def __init__(self, agent: AgentPrincipal, request: Request, settings: Settings) -> None:
        self._account = sign_in_throttle.account_key(agent.email)
        self._client = client_of(request)
        self._limits = Limits.of(settings)

    def check(self, session: Session, now: datetime) -> None:
        wait = sign_in_throttle.retry_after(
            session, account=self._account, client=self._client, now=now, limits=self._limits
        )
        if wait is not None:
            raise throttled(wait)

    def failed(self, session: Session, now: datetime) -> None:
        sign_in_throttle.record_failure(
            session, account=self._account, client=self._client, now=now, limits=self._limits
        )


def _row(session: Session, agent: AgentPrincipal) -> AgentRow:
    row = session.get(AgentRow, agent.handle)
    if row is None:
        raise NotFound(f"agent {agent.handle!r}")
    return row


def _audit(session: Session, agent: AgentPrincipal, *, on: bool) -> None:
    audit.record(
        session,
        actor=agent.actor(),
        action=AuditAction.UPDATED,
        entity=AuditEntity.AGENT,
        entity_id=agent.handle,
        changes={"two_factor": [not on, on]},
        summary=f"agent {agent.handle!r} turned two-factor {'on' if on else 'off'}",
    )
