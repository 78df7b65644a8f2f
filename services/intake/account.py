"""`/api/v1/auth`: who the caller is, for the agent console (and any client that signs
people in)."""

from fastapi import APIRouter
from pydantic import BaseModel

from services.intake.auth import AgentPrincipal, CurrentPrincipal
from services.intake.errors import ErrorBody, Forbidden
from shared.domain.enums import Role

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class Me(BaseModel):
    handle: str
    name: str
    email: str
    role: Role


@router.get(
    "/me",
    responses={
        401: {"model": ErrorBody, "description": "No credentials, or ones that are not valid"},
        403: {"model": ErrorBody, "description": "The credential is not an agent's"},
    },
)
async def me(principal: CurrentPrincipal) -> Me:
    """The agent the credential stands for (an agent's token or session)."""
    if not isinstance(principal, AgentPrincipal):
        raise Forbidden("this credential is not an agent's")
    return Me(
        handle=principal.handle, name=principal.name, email=principal.email, role=principal.role
    )
