"""The queues' views ("My tickets", "Overdue", ...) and what narrows one (the search, the
filters, the sort and the page), as the list API's parameters."""

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import urlencode

from pydantic import BaseModel, ConfigDict, Field

from services.web.console.agent import SignedIn
from shared.domain.enums import Priority, TicketStatus
from shared.domain.external_refs import parse_label


class View(StrEnum):
    MINE = "mine"
    TEAMS = "teams"
    UNASSIGNED = "unassigned"
    OVERDUE = "overdue"
    BREACHING = "breaching"
    PENDING = "pending"
    RESOLVED = "resolved"
    OPEN = "open"
    CLOSED = "closed"


VIEW_NAMES = {
    View.MINE: "My tickets",
    View.TEAMS: "My teams'",
    View.UNASSIGNED: "Unassigned",
    View.OVERDUE: "Overdue",
    View.BREACHING: "Breaching soon",
    View.PENDING: "Pending",
    View.RESOLVED: "Resolved",
    View.OPEN: "All open",
    View.CLOSED: "Closed",
}
OPEN = [TicketStatus.OPEN, TicketStatus.PENDING]
PRIORITY_WORDS = {p: p.value.capitalize() for p in Priority}
STATUS_WORDS = {s: s.value.capitalize() for s in TicketStatus}
SOON = timedelta(hours=1)  # "breaching soon": a clock due within the hour


class QueueQuery(BaseModel):
    """What the page shows: a view, narrowed by the search and the filters."""

    model_config = ConfigDict(extra="ignore")

    view: View | None = None
    q: str = Field(default="", max_length=200)
    status: TicketStatus | Literal[""] = ""
    priority: Priority | Literal[""] = ""
    team: str = Field(default="", max_length=64)
    department: str = Field(default="", max_length=64)
    help_topic: str = Field(default="", max_length=64)
    assignee: str = Field(default="", max_length=64)
    sort: Literal["", "number", "priority", "due", "updated", "created"] = ""
    order: Literal["", "asc", "desc"] = ""
    page: int = Field(default=1, ge=1, le=10_000)

    def shown_view(self, agent: SignedIn) -> View:
        # Viewers are never assigned tickets: they start with every open one.
        return self.view or (View.MINE if agent.writes else View.OPEN)

    def link(self, **changes: Any) -> str:
        """This page's address with `changes` (page 1 unless one is given)."""
        query = self.query_string(**{"page": 1, **changes})
        return "/agent" + (f"?{query}" if query else "")

    def query_string(self, **changes: Any) -> str:
        values = {**self.model_dump(mode="json"), **changes}
        kept = {k: v for k, v in values.items() if v not in ("", None) and (k, v) != ("page", 1)}
        return urlencode(kept)


def default_sort(view: View) -> str:
    """Work in hand by its next due time; finished work by when it last changed."""
    return "updated" if view in (View.RESOLVED, View.CLOSED) else "due"


def view_params(view: View, agent: SignedIn, now: datetime) -> dict[str, Any]:
    """The list API's parameters for `view`, as `agent` sees it at `now`."""
    if view is View.MINE:
        return {"status": OPEN, "assignee": agent.handle}
    if view is View.TEAMS:
        return {"status": OPEN, "team_member": agent.handle}
    if view is View.UNASSIGNED:
        return {"status": OPEN, "unassigned": "true"}
    if view is View.OVERDUE:
        return {"status": OPEN, "overdue": "true"}
    if view is View.BREACHING:
        return {"status": OPEN, "due_before": (now + SOON).isoformat()}
    if view is View.OPEN:
        return {"status": OPEN}
    return {"status": [TicketStatus(view.value)]}


def list_params(query: QueueQuery, agent: SignedIn, now: datetime) -> dict[str, Any] | None:
    """The view's parameters narrowed by the filters and the search; None when they cannot
    both hold (a filter's status outside the view's, say): nothing to ask."""
    params = view_params(query.shown_view(agent), agent, now)
    if query.status:
        if query.status not in params["status"]:
            return None
        params["status"] = [query.status]
    if query.assignee:
        if params.get("unassigned") or params.get("assignee", query.assignee) != query.assignee:
            return None
        params["assignee"] = query.assignee
    for name in ("priority", "team", "department", "help_topic"):
        if value := getattr(query, name):
            params[name] = value
    if query.q.strip():
        params.update(_search(query.q.strip()))
    params["sort"] = query.sort or default_sort(query.shown_view(agent))
    if query.order:
        params["order"] = query.order
    return params


def _search(words: str) -> dict[str, str]:
    """An external reference (`jira:OPS-12`) is looked up as one; anything else searches the
    subject, the requester's name and address, and the number."""
    if ":" in words and " " not in words:
        try:
            parse_label(words)
        except ValueError:
            pass
        else:
            return {"external": words}
    return {"q": words}
