"""`/api/v1/auth`: who the caller is, for the agent console (and any client that signs
people in); with the routes of signing in and out (sign_in_routes), invites (invites) and
two-factor (two_factor) mounted on the same router."""

from fastapi import APIRouter
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.intake.auth import SignedInAgent
from services.intake.auth_schemas import AgentAccount
from services.intake.deps import SessionsDep
from services.intake.errors import ErrorBody
from services.intake.invites import router as invites_router
from services.intake.sign_in_routes import router as sign_in_router
from services.intake.two_factor import router as two_factor_router
from shared.db.tables import AgentRow
from shared.db.threads import in_thread

me_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Me(AgentAccount):
    """The agent the credential stands for."""


def _two_factor(sessions: sessionmaker[Session], handle: str) -> bool:
    with sessions() as session:
        secret = session.scalar(select(AgentRow.totp_secret).where(AgentRow.handle == handle))
    return secret is not None


@me_router.get(
    "/me",
    responses={
        401: {"model": ErrorBody, "description": "No credentials, or ones that are not valid"},
        403: {"model": ErrorBody, "description": "The credential is not an agent's"},
    },
)
async def me(agent: SignedInAgent, sessions: SessionsDep) -> Me:
    """The agent the credential stands for (an agent's token or session), whatever their
    role; also for a session that must set up two-factor first."""
    return Me(
        handle=agent.handle,
        name=agent.name,
        email=agent.email,
        role=agent.role,
        two_factor=await in_thread(_two_factor, sessions, agent.handle),
    )


# Every /api/v1/auth route, in one router for the app to mount.
router = APIRouter()
router.include_router(me_router)
router.include_router(sign_in_router)
router.include_router(invites_router)
router.include_router(two_factor_router)
