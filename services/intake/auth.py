"""Who is calling: an agent (bearer API token, or a sign-in session's token, `tfs_…`), an
integration (an API key, `tfk_…`), or a ticket's requester (its access token, or a portal
link's credential for that ticket, `tl1.…`, until it expires).

Routes state what they need through their dependencies: `CurrentPrincipal` (anyone with
credentials: a requester is checked against the ticket's number), or a scope through
`require_scope` (an agent whose role grants it, or a key holding it; `admin` implies all).
`CurrentAgent` (tickets:read), `WritingAgent` (tickets:write) and `AdminAgent` (admin) are
those guards for the ticket and admin routes. `SignedInAgent` is any agent, whatever their role,
for their own account (/api/v1/auth). `AuthenticateFirst` reads the same dependencies to check
the caller before FastAPI reads the body.

A session that must set up two-factor first (an admin, where the desk requires it) may only
call /api/v1/auth/*: elsewhere it is answered 403."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import RouteContext, iter_route_contexts
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import Match
from starlette.types import ASGIApp, Receive, Scope, Send

from services.intake.deps import SessionsDep
from services.intake.errors import Forbidden, Unauthorized, error_answer
from shared.access import (
    hash_token,
    is_api_key,
    is_link_credential,
    link_credential_valid,
    requester_token,
    requester_token_valid,
)
from shared.db import agent_sessions, api_keys, directory
from shared.db.threads import in_thread
from shared.domain.enums import ActorKind, Role
from shared.domain.models import Actor
from shared.domain.scopes import Scope as KeyScope
from shared.domain.scopes import grants, role_grants
from shared.settings import Settings


@dataclass(frozen=True)
class AgentPrincipal:
    handle: str
    name: str
    email: str
    role: Role
    # The sign-in session the credential is (None: the agent's API token).
    session: int | None = None
    must_enrol_two_factor: bool = False

    def allows(self, scope: KeyScope) -> bool:
        return role_grants(self.role, scope)

    def actor(self) -> Actor:
        return Actor(kind=ActorKind.AGENT, name=self.name, handle=self.handle)


@dataclass(frozen=True)
class KeyPrincipal:
    """An integration's API key: it may do what its scopes allow, and acts under its name."""

    id: int
    name: str
    scopes: frozenset[KeyScope]

    @property
    def handle(self) -> str:
        """`key:<id>`: tells two keys of one name apart (and scopes a key's Idempotency-Keys to
        it); never an agent's handle, which has no colon."""
        return f"key:{self.id}"

    def allows(self, scope: KeyScope) -> bool:
        return grants(self.scopes, scope)

    def actor(self) -> Actor:
        """On a ticket's timeline and in the audit log: the key, under its name."""
        return Actor(kind=ActorKind.INTEGRATION, name=self.name, handle=self.handle)


@dataclass(frozen=True)
class RequesterPrincipal:
    """A bearer that is no agent's token: valid only if it is the ticket's access token (a
    portal link's credential is exchanged for it by `requester_of`, for its ticket alone)."""

    token: str


# Those who act for the help desk: they read and command any ticket their scopes allow.
Staff = AgentPrincipal | KeyPrincipal
Principal = AgentPrincipal | KeyPrincipal | RequesterPrincipal

bearer_scheme = HTTPBearer(
    auto_error=False,
    description="An agent's API token or sign-in session (tfs_…, from POST /api/v1/auth/sessions), "
    "an integration's API key (tfk_…), or, for a ticket's requester, the ticket's access token "
    "or a portal link's credential (tl1.…) for it.",
)
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def principal_of(sessions: sessionmaker[Session], token: str) -> Principal:
    """The caller a bearer token stands for; 401 for a key that is unknown, revoked or expired."""
    if is_link_credential(token):  # signed, not stored: nothing to look up
        return RequesterPrincipal(token=token)
    if agent_sessions.is_session_token(token):
        return _session_agent(sessions, token)
    # Short sessions: ticket handlers go on to await Temporal, and must not hold a connection.
    if is_api_key(token):
        with sessions.begin() as session:  # the key's last use may be written (once a minute)
            key = api_keys.authenticate(session, token, datetime.now(UTC))
        if key is not None:
            return KeyPrincipal(id=key.id, name=key.name, scopes=key.scopes)
    with sessions() as session:
        agent = directory.agent_by_token_hash(session, hash_token(token))
    if agent is not None:
        return AgentPrincipal(
            handle=agent.handle, name=agent.name, email=agent.email, role=Role(agent.role)
        )
    if is_api_key(token):
        raise Unauthorized()
    return RequesterPrincipal(token=token)


def _session_agent(sessions: sessionmaker[Session], token: str) -> AgentPrincipal:
    """The agent signed in with this session; 401 if it ended or the agent is inactive."""
    with sessions.begin() as session:  # the session's last use may be noted (once a minute)
        found = agent_sessions.authenticate(session, token, datetime.now(UTC))
    if found is None:
        raise Unauthorized()
    return AgentPrincipal(
        handle=found.handle,
        name=found.name,
        email=found.email,
        role=Role(found.role),
        session=found.session_id,
        must_enrol_two_factor=found.must_enrol_two_factor,
    )


ACCOUNT_PREFIX = "/api/v1/auth/"  # all a session that must set up two-factor may call


def admitted(principal: Principal, path: str) -> Principal:
    """`principal`, unless it is a session that must set up two-factor first and `path` is
    not one of the account's (403)."""
    if (
        isinstance(principal, AgentPrincipal)
        and principal.must_enrol_two_factor
        and not path.startswith(ACCOUNT_PREFIX)
    ):
        raise Forbidden("set up two-factor first")
    return principal


def agent_itself(principal: Principal) -> AgentPrincipal:
    """The agent, of any role, the credential stands for: 401 for a requester's (or unknown)
    token, 403 for an integration's key."""
    if isinstance(principal, AgentPrincipal):
        return principal
    if isinstance(principal, KeyPrincipal):
        raise Forbidden("this credential is not an agent's")
    raise Unauthorized()


def _principal(
    sessions: sessionmaker[Session], credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is None or not credentials.credentials.strip():
        raise Unauthorized()
    return principal_of(sessions, credentials.credentials.strip())


def requester_of(
    principal: RequesterPrincipal, number: str, settings: Settings
) -> RequesterPrincipal:
    """The ticket's requester, if the bearer is its access token or a link credential signed
    for this very ticket that has not expired (401 otherwise). A link credential stands for
    the access token from here on, so every check of a ticket's routes holds it as before."""
    token = principal.token
    if is_link_credential(token):
        if not link_credential_valid(settings.secret_key, number, token, datetime.now(UTC)):
            raise Unauthorized()
        return RequesterPrincipal(token=requester_token(settings.secret_key, number))
    if not requester_token_valid(settings.secret_key, number, token):
        raise Unauthorized()
    return principal


async def get_principal(
    request: Request, sessions: SessionsDep, credentials: Credentials
) -> Principal:
    checked = getattr(request.state, "principal", None)
    if isinstance(checked, AgentPrincipal | KeyPrincipal | RequesterPrincipal):
        return checked  # found by AuthenticateFirst for this very request (no thread hop)
    principal = admitted(await in_thread(_principal, sessions, credentials), request.url.path)
    number = request.path_params.get("number")
    if isinstance(principal, RequesterPrincipal) and isinstance(number, str):
        return requester_of(principal, number, request.app.state.settings)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_signed_in_agent(
    request: Request, sessions: SessionsDep, credentials: Credentials
) -> AgentPrincipal:
    """Any agent, whatever their role (a viewer too), for their own account: no scope is
    needed, and a key or a requester's token is refused."""
    checked = getattr(request.state, "principal", None)
    if isinstance(checked, AgentPrincipal | KeyPrincipal | RequesterPrincipal):
        return agent_itself(checked)
    principal = await in_thread(_principal, sessions, credentials)
    return agent_itself(admitted(principal, request.url.path))


SignedInAgent = Annotated[AgentPrincipal, Depends(get_signed_in_agent)]


def presented_key(request: Request, sessions: SessionsDep) -> KeyPrincipal | None:
    """The API key a request to a public route (opening a ticket) carries, checked (401 if
    unknown, revoked or expired); any other credentials there are ignored, as before. Read
    from the header itself, so the route stays one that needs no credentials."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not is_api_key(token):
        return None
    principal = principal_of(sessions, token)
    return principal if isinstance(principal, KeyPrincipal) else None


PresentedKey = Annotated[KeyPrincipal | None, Depends(presented_key)]


def writing_agent_of(request: Request, sessions: sessionmaker[Session]) -> Staff:
    """The staff member (an agent, or a key with tickets:write) whose token a request to a
    public route carries, for what only staff may ask of it (401 or 403 otherwise). Not a
    dependency: the route stays public, and its document does not claim credentials that
    most of its callers need not send."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    principal = admitted(principal_of(sessions, token.strip()), request.url.path)
    return staff_with(principal, KeyScope.TICKETS_WRITE)


def staff_with(principal: Principal, scope: KeyScope) -> Staff:
    """`principal` if it is an agent whose role grants `scope` or a key holding it: else 401
    (a requester's token) or 403 (naming the missing scope, or the role needed)."""
    if isinstance(principal, RequesterPrincipal):
        raise Unauthorized()
    if principal.allows(scope):
        return principal
    if isinstance(principal, KeyPrincipal):
        raise Forbidden(f"this API key lacks the scope {scope.value!r}")
    if principal.role is Role.VIEWER and role_grants(Role.AGENT, scope):
        raise Forbidden("viewers may read but not change anything")
    raise Forbidden("admin role required")


# The guards `require_scope` made, by dependency: what AuthenticateFirst checks for a route.
_GUARDS: dict[Callable[..., Any], KeyScope] = {}


def require_scope(scope: KeyScope | str) -> Callable[[Principal], Awaitable[Staff]]:
    """The dependency a route (or a router) uses to need `scope`:

        Reader = Annotated[Staff, Depends(require_scope("events:read"))]
        APIRouter(dependencies=[Depends(require_scope("webhooks:admin"))])

    It answers the caller (an agent or a key: `Staff`), after 401 for no or bad credentials
    and 403 naming the missing scope. The same scope gives the same dependency, so FastAPI
    runs it once per request and `AuthenticateFirst` checks it before the body is read."""
    return _guard(KeyScope(scope))


@cache
def _guard(scope: KeyScope) -> Callable[[Principal], Awaitable[Staff]]:
    async def guard(principal: CurrentPrincipal) -> Staff:
        return staff_with(principal, scope)

    guard.__name__ = guard.__qualname__ = f"require_{scope.value.replace(':', '_')}"
    _GUARDS[guard] = scope
    return guard


get_agent = require_scope(KeyScope.TICKETS_READ)
get_writing_agent = require_scope(KeyScope.TICKETS_WRITE)
get_admin = require_scope(KeyScope.ADMIN)
CurrentAgent = Annotated[Staff, Depends(get_agent)]
WritingAgent = Annotated[Staff, Depends(get_writing_agent)]
AdminAgent = Annotated[Staff, Depends(get_admin)]


@dataclass(frozen=True)
class Requirement:
    """What a route asks of its caller, read from its dependencies: credentials of anyone
    (`principal`: an agent, a key, or the ticket's requester), and/or these scopes, and/or an
    agent of any role (`agent`: their own account)."""

    principal: bool = False
    scopes: frozenset[KeyScope] = frozenset()
    agent: bool = False

    @property
    def public(self) -> bool:
        return not self.principal and not self.scopes and not self.agent

    def __or__(self, other: "Requirement") -> "Requirement":
        return Requirement(
            self.principal or other.principal, self.scopes | other.scopes, self.agent or other.agent
        )


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def requirement_of(dependant: Dependant) -> Requirement:
    own = Requirement()
    if dependant.call is get_principal:
        own = Requirement(principal=True)
    elif dependant.call is get_signed_in_agent:
        own = Requirement(agent=True)
    elif dependant.call in _GUARDS:
        own = Requirement(scopes=frozenset({_GUARDS[dependant.call]}))
    for sub in dependant.dependencies:
        own = own | requirement_of(sub)
    return own


def route_requirement(route: RouteContext) -> Requirement:
    dependant = getattr(route, "dependant", None)  # plain Starlette routes (docs) have none
    return requirement_of(dependant) if isinstance(dependant, Dependant) else Requirement()


async def authenticate(
    request: Request, needs: Requirement, path_params: Mapping[str, Any]
) -> Principal:
    """The checks of the route's auth dependencies, done before anything else of the request."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    principal = await in_thread(_principal, sessions, await bearer_scheme(request))
    admitted(principal, request.url.path)
    if needs.agent:
        agent_itself(principal)
    for scope in sorted(needs.scopes):
        staff_with(principal, scope)
    if needs.principal and not needs.scopes:
        number = path_params.get("number")
        if isinstance(principal, RequesterPrincipal):
            if isinstance(number, str):
                principal = requester_of(principal, number, request.app.state.settings)
        else:  # staff read a ticket with tickets:read, and answer on it with tickets:write
            reads = request.method in SAFE_METHODS
            staff_with(principal, KeyScope.TICKETS_READ if reads else KeyScope.TICKETS_WRITE)
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
        self._routes: list[tuple[RouteContext, Requirement]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            request = Request(scope)
            needs, path_params = self._requirement(request)
            if not needs.public:
                try:
                    request.state.principal = await authenticate(request, needs, path_params)
                except Exception as err:
                    response = await error_answer(request, err)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    def _requirement(self, request: Request) -> tuple[Requirement, Mapping[str, Any]]:
        if self._routes is None:  # routes are all included when the first request comes
            contexts = iter_route_contexts(request.app.routes)
            self._routes = [(route, route_requirement(route)) for route in contexts]
        for route, needs in self._routes:
            match, child_scope = route.matches(request.scope)
            if match is Match.FULL:
                return needs, child_scope.get("path_params", {})
        return Requirement(), {}
