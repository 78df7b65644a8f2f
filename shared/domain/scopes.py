"""What an API key (a service account) may do, and what each agent role may do in the same
terms: a route asks for one scope, and an agent or a key either holds it or does not."""

from collections.abc import Iterable
from enum import StrEnum

from shared.domain.enums import Role


class Scope(StrEnum):
    TICKETS_CREATE = "tickets:create"
    TICKETS_READ = "tickets:read"  # tickets, lists, timelines, reports
    TICKETS_WRITE = "tickets:write"  # commands: assign, reply, resolve, close, …
    EVENTS_READ = "events:read"
    WEBHOOKS_ADMIN = "webhooks:admin"
    ADMIN = "admin"  # the admin API; implies every other scope


# The scopes each agent role stands for (creating a ticket needs no credentials at all).
ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.ADMIN: frozenset(Scope),
    Role.AGENT: frozenset({Scope.TICKETS_CREATE, Scope.TICKETS_READ, Scope.TICKETS_WRITE}),
    Role.VIEWER: frozenset({Scope.TICKETS_CREATE, Scope.TICKETS_READ}),
}


def grants(held: Iterable[Scope], needed: Scope) -> bool:
    """Whether scopes `held` allow what `needed` guards (`admin` allows everything)."""
    held = frozenset(held)
    return needed in held or Scope.ADMIN in held


def role_grants(role: Role, needed: Scope) -> bool:
    return grants(ROLE_SCOPES[role], needed)
