"""`/api/v1/auth/invites/{token}`: the console's page for an invite link reads whose it is,
then sets the agent's password with it (once; the agent's sessions end). No credentials: the
link's token is the credential. Admins send invites (services.intake.admin.agent_access)."""

from datetime import UTC, datetime

from fastapi import APIRouter, Response, status

from services.intake.auth_schemas import InvitedAgent, NewPasswordBody
from services.intake.deps import SessionDep
from services.intake.errors import ErrorBody, Refused, invalid
from shared.db import audit, invites
from shared.db.passwords import password_problem
from shared.domain.audit import SECRET_ROTATED, AuditAction, AuditEntity
from shared.domain.enums import ActorKind
from shared.domain.errors import NotFound
from shared.domain.models import Actor

router = APIRouter(prefix="/api/v1/auth/invites", tags=["auth"])

GONE = "this invite has expired, was used, or was replaced by a newer one"
ANSWERS: dict[int | str, dict[str, object]] = {
    404: {"model": ErrorBody, "description": "No invite has this token"},
    410: {"model": ErrorBody, "description": "The invite expired, was used, or was replaced"},
}


@router.get("/{token}", responses=ANSWERS)
def read_invite(token: str, session: SessionDep) -> InvitedAgent:
    """Whom the invite is for (to greet them on the page that sets the password)."""
    try:
        _, agent = invites.find(session, token, datetime.now(UTC))
    except invites.InviteUnknown as err:
        raise NotFound("invite") from err
    except invites.InviteGone as err:
        raise Refused(status.HTTP_410_GONE, GONE) from err
    return InvitedAgent(handle=agent.handle, name=agent.name, email=agent.email)


@router.post("/{token}", status_code=status.HTTP_204_NO_CONTENT, responses=ANSWERS)
def accept_invite(token: str, body: NewPasswordBody, session: SessionDep) -> Response:
    """Set the agent's password (at least 12 characters); the invite is then used up."""
    problem = password_problem(body.password)
    if problem is not None:
        raise invalid("body", "password", problem)
    try:
        agent = invites.redeem(session, token, body.password, datetime.now(UTC))
    except invites.InviteUnknown as err:
        raise NotFound("invite") from err
    except invites.InviteGone as err:
        raise Refused(status.HTTP_410_GONE, GONE) from err
    audit.record(
        session,
        actor=Actor(kind=ActorKind.AGENT, name=agent.name, handle=agent.handle),
        action=AuditAction.UPDATED,
        entity=AuditEntity.AGENT,
        entity_id=agent.handle,
        changes={"password": SECRET_ROTATED},
        summary=f"agent {agent.handle!r} set a password through an invite",
    )
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
