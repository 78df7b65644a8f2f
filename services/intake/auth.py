"""Who is calling: an agent (bearer API token) or a ticket's requester (its access token).

Routes state what they need through their dependencies (`CurrentPrincipal`, `CurrentAgent`,
`WritingAgent`, `AdminAgent`); `AuthenticateFirst` reads those same dependencies to check the
caller before FastAPI reads the body."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.routing import RouteContext, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from services.intake.deps import SessionsDep
from services.intake.errors import Forbidden, Unauthorized, error_answer
from shared.access import hash_token, requester_token_valid
from shared.db import directory
from shared.domain.enums import Role
from shared.settings import Settings


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

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An agent's API token, or a ticket's access token (for its requester).",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def _principal(
    sessions: sessionmaker[Session], credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is None or not credentials.credentials.strip():
        raise Unauthorized()
    token = credentials.credentials.strip()
    # A short session: ticket handlers go on to await Temporal, and must not hold a connection.
    with sessions() as session:
        agent = directory.agent_by_token_hash(session, hash_token(token))
    if agent is None:
        return RequesterPrincipal(token=token)
    return AgentPrincipal(
        handle=agent.handle, name=agent.name, email=agent.email, role=Role(agent.role)
    )


def get_principal(request: Request, sessions: SessionsDep, credentials: Credentials) -> Principal:
    checked = getattr(request.state, "principal", None)
    if isinstance(checked, AgentPrincipal | RequesterPrincipal):
        return checked  # found by AuthenticateFirst for this very request
    return _principal(sessions, credentials)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def writing_agent_of(request: Request, sessions: sessionmaker[Session]) -> AgentPrincipal:
    """The writing agent whose token a request to a public route carries, for what only agents
    may ask of it (401 or 403 otherwise). Not a dependency: the route stays public, and its
    document does not claim credentials that most of its callers need not send."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized()
    credentials = HTTPAuthorizationCredentials(scheme=scheme, credentials=token)
    return get_writing_agent(get_agent(_principal(sessions, credentials)))


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


class Access(IntEnum):
    """What a route asks of its caller: the most its dependencies ask."""

    PUBLIC = 0
    PRINCIPAL = 1  # an agent, or a requester holding the ticket's access token
    AGENT = 2
    WRITER = 3
    ADMIN = 4


_ACCESS: dict[Callable[..., Any], Access] = {
    get_principal: Access.PRINCIPAL,
    get_agent: Access.AGENT,
    get_writing_agent: Access.WRITER,
    get_admin: Access.ADMIN,
}
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def required_access(dependant: Dependant) -> Access:
    own = _ACCESS.get(dependant.call, Access.PUBLIC) if dependant.call else Access.PUBLIC
    return max([own, *(required_access(d) for d in dependant.dependencies)])


def route_access(route: RouteContext) -> Access:
    dependant = getattr(route, "dependant", None)  # plain Starlette routes (docs) have none
    return required_access(dependant) if isinstance(dependant, Dependant) else Access.PUBLIC


async def authenticate(
    request: Request, access: Access, path_params: Mapping[str, Any]
) -> Principal:
    """The checks of the route's auth dependencies, done before anything else of the request."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    principal = await run_in_threadpool(_principal, sessions, await bearer_scheme(request))
    if access is Access.PRINCIPAL:
        number = path_params.get("number")
        if isinstance(principal, RequesterPrincipal):
            settings: Settings = request.app.state.settings
            if isinstance(number, str) and not requester_token_valid(
                settings.secret_key, number, principal.token
            ):
                raise Unauthorized()
        elif request.method not in SAFE_METHODS:
            get_writing_agent(principal)
    elif access >= Access.AGENT:
        agent = get_agent(principal)
        if access is Access.WRITER:
            get_writing_agent(agent)
        elif access is Access.ADMIN:
            get_admin(agent)
    return principal


class AuthenticateFirst:
    """Answers 401/403 before the body is read or validated.

    FastAPI reads and decodes a JSON body before it solves any dependency (app-, router- or
    route-level alike), so a malformed body was answered 422 before the caller was known. This
    middleware finds the route the request will reach (the first full match, as the router does)
    and runs the checks its auth dependencies stand for; the principal is kept in
    `request.state` for those dependencies, so the token is looked up once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: list[tuple[RouteContext, Access]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            access, path_params = self._access(request)
            if access is not Access.PUBLIC:
                try:
                    request.state.principal = await authenticate(request, access, path_params)
                except Exception as err:
                    response = await error_answer(request, err)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _access(self, request: Request) -> tuple[Access, Mapping[str, Any]]:
        if self._routes is None:  # routes are all included when the first request comes
            contexts = iter_route_contexts(request.app.routes)
            self._routes = [(route, route_access(route)) for route in contexts]
        for route, access in self._routes:
            match, child_scope = route.matches(request.scope)
            if match is Match.FULL:
                return access, child_scope.get("path_params", {})
        return Access.PUBLIC, {}
