"""Admin actions on an agent's sign-in: invite them to set a password (a one-time link,
mailed to them), reset their second factor, sign them out everywhere. Each is audit-logged in
its own transaction, like every admin change."""

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy.orm import Session

from services.intake.admin.errors import ReferenceRoute
from services.intake.auth import AdminAgent, Staff, get_admin
from services.intake.auth_schemas import InviteSent
from services.intake.deps import SessionDep, SettingsDep
from services.intake.errors import ErrorBody
from services.tickets.errors import Conflict
from shared.db import agent_sessions, audit, invites, two_factor
from shared.db.tables import AgentRow
from shared.domain.audit import SECRET, AuditAction, AuditEntity
from shared.domain.enums import Role
from shared.domain.errors import NotFound

router = APIRouter(
    prefix="/api/v1/admin/agents",
    tags=["admin"],
    dependencies=[Depends(get_admin)],
    route_class=ReferenceRoute,
)
NO_CONTENT = status.HTTP_204_NO_CONTENT


@router.post(
    "/{handle}/invite",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorBody, "description": "The agent is inactive"}},
)
def invite_agent(
    handle: str, session: SessionDep, admin: AdminAgent, settings: SettingsDep
) -> InviteSent:
    """A one-time link for the agent to set a password, good for INVITE_LIFETIME_HOURS and
    mailed to them as well; it replaces their unused invites."""
    agent = _agent(session, handle)
    if not agent.active:
        raise Conflict(f"agent {handle!r} is inactive: activate them first")
    mailing = invites.Mailing(
        portal_url=settings.portal_url,
        desk_name=settings.desk_name,
        channel=settings.notify_default_channel,
        secret_key=settings.secret_key,
    )
    invite = invites.create(
        session,
        agent=agent,
        invited_by=admin.name,
        now=datetime.now(UTC),
        lifetime=timedelta(hours=settings.invite_lifetime_hours),
        mailing=mailing,
    )
    _record(
        session,
        admin,
        handle,
        {"invite": [None, SECRET]},
        f"invited agent {handle!r} to set a password (mailed to {agent.email})",
    )
    session.commit()
    return InviteSent(url=invite.url, expires_at=invite.expires_at)


@router.post("/{handle}/reset-two-factor", status_code=NO_CONTENT)
def reset_two_factor(
    handle: str, session: SessionDep, admin: AdminAgent, settings: SettingsDep
) -> Response:
    """Remove the agent's second factor and recovery codes (a lost phone): they sign in with
    their password alone, and may set it up again. An admin where the desk requires it must
    set it up again before anything else."""
    agent = _agent(session, handle)
    was_on = two_factor.clear(session, agent)
    if settings.require_two_factor_for_admins and agent.role == Role.ADMIN.value:
        agent_sessions.require_enrolment(session, handle, True)
    _record(
        session,
        admin,
        handle,
        {"two_factor": [was_on, False]},
        f"reset the two-factor of agent {handle!r}",
    )
    session.commit()
    return Response(status_code=NO_CONTENT)


@router.post("/{handle}/sign-out", status_code=NO_CONTENT)
def sign_agent_out(handle: str, session: SessionDep, admin: AdminAgent) -> Response:
    """End every sign-in session of the agent (their API token is not touched)."""
    _agent(session, handle)
    ended = agent_sessions.end_all(session, handle)
    _record(
        session,
        admin,
        handle,
        {"sessions": [ended, 0]},
        f"signed agent {handle!r} out everywhere ({ended} sessions)",
    )
    session.commit()
    return Response(status_code=NO_CONTENT)


def _agent(session: Session, handle: str) -> AgentRow:
    agent = session.get(AgentRow, handle)
    if agent is None:
        raise NotFound(f"agent {handle!r}")
    return agent


def _record(
    session: Session, admin: Staff, handle: str, changes: dict[str, list[object]], summary: str
) -> None:
    audit.record(
        session,
        actor=admin.actor(),
        action=AuditAction.UPDATED,
        entity=AuditEntity.AGENT,
        entity_id=handle,
        changes=changes,
        summary=summary,
    )
