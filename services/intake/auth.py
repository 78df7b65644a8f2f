"""Who is calling: an agent (bearer API token) or a ticket's requester (its access token)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.intake.deps import SessionsDep
from services.intake.errors import Forbidden, Unauthorized
from shared.access import hash_token
from shared.db import directory
from shared.enums import Role


@dataclass(frozen=True)
class AgentPrincipal:
    handle: str
    name: str
    email: str
    role: Role


@dataclass(frozen=True)
class RequesterPrincipal:
    """A bearer that is no agent's token: valid only if it is the ticket's access token."""

    token: str


Principal = AgentPrincipal | RequesterPrincipal


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def get_principal(request: Request, sessions: SessionsDep) -> Principal:
    token = bearer_token(request)
    if token is None:
        raise Unauthorized()
    # A short session: ticket handlers go on to await Temporal, and must not hold a connection.
    with sessions() as session:
        agent = directory.agent_by_token_hash(session, hash_token(token))
    if agent is None:
        return RequesterPrincipal(token=token)
    return AgentPrincipal(
        handle=agent.handle, name=agent.name, email=agent.email, role=Role(agent.role)
    )


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_agent(principal: CurrentPrincipal) -> AgentPrincipal:
    if not isinstance(principal, AgentPrincipal):
        raise Unauthorized()
    return principal


CurrentAgent = Annotated[AgentPrincipal, Depends(get_agent)]


def get_writing_agent(agent: CurrentAgent) -> AgentPrincipal:
    if agent.role is Role.VIEWER:
        raise Forbidden("viewers may read but not change anything")
    return agent


WritingAgent = Annotated[AgentPrincipal, Depends(get_writing_agent)]


def get_admin(agent: CurrentAgent) -> AgentPrincipal:
    if agent.role is not Role.ADMIN:
        raise Forbidden("admin role required")
    return agent


AdminAgent = Annotated[AgentPrincipal, Depends(get_admin)]
