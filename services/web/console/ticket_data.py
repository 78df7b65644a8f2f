"""What the console's ticket page reads from the API: the ticket with its thread and SLA
clocks, its timeline, the requester's other tickets, the help topics' names, and (for admins)
whom the ticket can go to. Only the ticket itself must be read; the rest may be missing."""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from services.web.api import TICKETS, ApiError, ApiModel, Entry, IntakeApi, Requester
from services.web.console.agent import SignedIn
from shared.domain.enums import ClockOutcome, Priority, SlaClock, TicketStatus

T = TypeVar("T")


class Clock(ApiModel):
    clock: SlaClock
    due_at: datetime
    paused: bool
    outcome: ClockOutcome


class Ref(ApiModel):
    system: str
    id: str
    url: str | None = None

    @property
    def link(self) -> str | None:
        """The url, if it is one a browser may follow from here: http(s) with a host."""
        parts = urlsplit(self.url or "")
        return self.url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


class ThreadEntry(Entry):
    unverified: bool = False


class AgentTicket(ApiModel):
    number: str
    subject: str
    status: TicketStatus
    priority: Priority
    requester: Requester
    help_topic: str
    department: str
    team: str | None = None
    assignee: str | None = None
    clocks: list[Clock] = []
    overdue: bool = False
    escalation_level: int = 0
    remind_at: datetime | None = None
    created_at: datetime
    version: int
    external_refs: list[Ref] = []
    thread: list[ThreadEntry] | None = None


class Who(ApiModel):
    name: str


class Event(ApiModel):
    kind: str  # words for the kinds known today; a new kind is shown by its name
    actor: Who
    at: datetime
    detail: dict[str, str] = {}


class Summary(ApiModel):
    number: str
    subject: str
    status: TicketStatus
    requester: Requester
    created_at: datetime


class Named(ApiModel):
    handle: str
    name: str


class DirectoryAgent(Named):
    assignable: bool


class DirectoryAnswer(ApiModel):
    agents: list[DirectoryAgent]
    teams: list[Named]
    departments: list[Named]


@dataclass(frozen=True)
class Directory:
    """Whom a ticket can go to, for the assign and transfer fields (any agent may list them)."""

    agents: list[Named]
    teams: list[Named]
    departments: list[Named]


@dataclass(frozen=True)
class Loaded:
    ticket: AgentTicket
    timeline: list[Event] | None  # None: could not be read just now
    others: list[Summary] | None
    topics: dict[str, str]
    directory: Directory | None


async def _optional(call: Awaitable[T]) -> T | None:
    """A part of the page that may be missing: None when the API could not give it now (the
    page says so in its place)."""
    try:
        return await call
    except ApiError:
        return None


async def _json(api: IntakeApi, agent: SignedIn, path: str, **params: Any) -> Any:
    answer = await api.call("GET", path, credential=agent.token, params=params or None)
    return answer.json()


async def _directory(api: IntakeApi, agent: SignedIn) -> Directory:
    answer = DirectoryAnswer.model_validate(await _json(api, agent, "/api/v1/directory"))
    assignable: list[Named] = [a for a in answer.agents if a.assignable]
    return Directory(assignable, answer.teams, answer.departments)


async def _nothing() -> None:
    return None


async def load(api: IntakeApi, agent: SignedIn, number: str) -> Loaded:
    """The ticket (ApiError if it cannot be read), and what may be missing beside it."""
    path = f"{TICKETS}/{number}"
    found, timeline, topics, directory = await asyncio.gather(
        _json(api, agent, path),
        _optional(_json(api, agent, f"{path}/timeline")),
        _optional(api.help_topics()),
        _optional(_directory(api, agent)) if agent.writes else _nothing(),
        return_exceptions=True,
    )
    # Every call has ended, none left running unseen; a failure other than the API's refusal
    # of a part that may be missing (None) fails the page, the ticket's own first.
    for answer in (found, timeline, topics, directory):
        if isinstance(answer, BaseException):
            raise answer
    ticket = AgentTicket.model_validate(found)
    listed = await _optional(
        _json(api, agent, TICKETS, requester=ticket.requester.email, per_page=21)
    )
    others = None
    if listed is not None:
        summaries = [Summary.model_validate(item) for item in listed["items"]]
        others = [s for s in summaries if s.number != number][:20]
    return Loaded(
        ticket=ticket,
        timeline=[Event.model_validate(e) for e in timeline["events"]]
        if isinstance(timeline, dict)
        else None,
        others=others,
        topics={t.handle: t.name for t in topics} if isinstance(topics, list) else {},
        directory=directory if isinstance(directory, Directory) else None,
    )
