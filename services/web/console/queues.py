"""The console's queues (`/agent`): the views with their counts; search and filters; sortable
columns and pages; each ticket's SLA in words; bulk actions, one API command per ticket with
its own Idempotency-Key. The page follows the change feed (services/web/console/live.py) and
its script fetches the rows again (`X-Queue-Part`) when a change concerns them."""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import FormData

from services.web.api import ApiError, ApiModel, IntakeApi, Requester
from services.web.console.agent import AgentDep, SignedIn, signed_in
from services.web.deps import ApiDep
from services.web.forms import new_form_key, text
from services.web.render import page
from services.web.security import PostedForm
from services.web.session import idempotency_key
from shared.domain.enums import Priority, TicketStatus
from shared.domain.external_refs import parse_label
from shared.settings import Settings

router = APIRouter(prefix="/agent")
PER_PAGE = 25
MAX_BULK = 100
BULK_AT_ONCE = 4  # commands in flight at a time for one bulk action
TICKETS = "/api/v1/tickets"


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


class QueueTicket(ApiModel):
    number: str
    subject: str
    status: TicketStatus
    priority: Priority
    requester: Requester
    help_topic: str
    department: str
    team: str | None
    assignee: str | None
    overdue: bool
    escalation_level: int = 0
    updated_at: datetime
    next_due_at: datetime | None = None
    breached_at: datetime | None = None
    sla_paused: bool = False


class QueuePage(ApiModel):
    items: list[QueueTicket]
    total: int


@dataclass(frozen=True)
class Sla:
    """A ticket's SLA as the queue shows it: words, and the time the script counts from."""

    words: str
    kind: str  # due | breached | paused | none
    at: datetime | None = None


def span(seconds: float) -> str:
    """A duration in words: "1 h 12 min", "45 min", "2 d 3 h", "under a minute"."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def sla_of(ticket: QueueTicket, now: datetime) -> Sla:
    if ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        return Sla("no clock running", "none")
    if ticket.breached_at is not None:
        since = span((now - ticket.breached_at).total_seconds())
        return Sla(f"breached {since} ago", "breached", ticket.breached_at)
    if ticket.next_due_at is not None:
        left = (ticket.next_due_at - now).total_seconds()
        words = f"due in {span(left)}" if left > 0 else "due now"
        return Sla(words, "due", ticket.next_due_at)
    if ticket.sla_paused:
        return Sla("paused", "paused")
    return Sla("no clock running", "none")


def ago(moment: datetime, now: datetime) -> str:
    seconds = (now - moment).total_seconds()
    return "just now" if seconds < 60 else f"{span(seconds)} ago"


@dataclass(frozen=True)
class Row:
    ticket: QueueTicket
    sla: Sla
    activity: str


async def _list(api: IntakeApi, agent: SignedIn, params: dict[str, Any]) -> QueuePage:
    answer = await api.call("GET", TICKETS, credential=agent.token, params=params)
    return QueuePage.model_validate(answer.json())


async def view_counts(api: IntakeApi, agent: SignedIn, now: datetime) -> dict[View, int | None]:
    """Each view's count (None where the API did not answer)."""

    async def count(view: View) -> int | None:
        try:
            found = await _list(api, agent, {**view_params(view, agent, now), "per_page": 1})
        except ApiError:
            return None
        return found.total

    totals = await asyncio.gather(*(count(view) for view in View))
    return dict(zip(View, totals, strict=True))


@dataclass
class Shown:
    """What one rendering of the page shows."""

    query: QueueQuery
    view: View
    rows: list[Row]
    total: int
    pages: int
    counts: dict[View, int | None]
    cursor: str = ""  # the change feed's position before the rows were read
    problem: str | None = None


async def gather_page(
    api: IntakeApi, agent: SignedIn, query: QueueQuery, *, rows: bool = True, live: bool = False
) -> Shown:
    """The view's page of rows (unless `rows` is false) and every view's count; with `live`,
    the change feed's position from just before the rows were read (where the page's live
    stream starts)."""
    now = datetime.now(UTC)
    params = list_params(query, agent, now) if rows else None

    async def listed() -> tuple[str, QueuePage | ApiError]:
        cursor = await _feed_head(api, agent) if live else ""
        if params is None:
            return cursor, QueuePage(items=[], total=0)
        try:
            wanted = {**params, "page": query.page, "per_page": PER_PAGE}
            return cursor, await _list(api, agent, wanted)
        except ApiError as err:
            return cursor, err

    (cursor, found), counts = await asyncio.gather(listed(), view_counts(api, agent, now))
    view = query.shown_view(agent)
    if isinstance(found, ApiError):
        problem = (
            "The help desk is not answering just now: the list is not shown. Reload in a moment."
            if found.status in (0, 502, 503, 504)
            else f"The list could not be shown: {found.detail or found.status}."
        )
        return Shown(query, view, [], 0, 1, counts, cursor, problem)
    shown = [Row(t, sla_of(t, now), ago(t.updated_at, now)) for t in found.items]
    pages = max(1, -(-found.total // PER_PAGE))
    return Shown(query, view, shown, found.total, pages, counts, cursor)


def live_filter(shown: Shown, agent: SignedIn) -> dict[str, str]:
    """What the page's script needs to tell whether a changed ticket now belongs in the view:
    the view's and the filters' conditions, as data attributes. The search text is left out
    (a change that might match it fetches the rows again), and so are due times (the change
    feed does not carry them: an open ticket's change refreshes "Breaching soon")."""
    query, view = shown.query, shown.view
    statuses = [s.value for s in view_params(view, agent, datetime.now(UTC))["status"]]
    found = {"statuses": " ".join([query.status] if query.status else statuses)}
    if view is View.MINE:
        found["assignee"] = agent.handle
    elif view is View.UNASSIGNED:
        found["unassigned"] = "true"
    elif view is View.TEAMS:
        found["in-team"] = "true"
    elif view is View.OVERDUE:
        found["overdue"] = "true"
    for name in ("assignee", "priority", "team", "department", "help_topic"):
        if value := getattr(query, name):
            found[name.replace("_", "-")] = value
    return found


def known_values(shown: Shown, agent: SignedIn) -> dict[str, list[str]]:
    """Suggestions for the filters' and the bulk actions' fields: what the rows name."""
    tickets = [row.ticket for row in shown.rows]
    agents = {agent.handle} if agent.writes else set()
    return {
        "queue-agents": sorted(agents | {t.assignee for t in tickets if t.assignee}),
        "queue-teams": sorted({t.team for t in tickets if t.team}),
        "queue-departments": sorted({t.department for t in tickets}),
        "queue-topics": sorted({t.help_topic for t in tickets}),
    }


def render(
    request: Request,
    agent: SignedIn,
    shown: Shown,
    *,
    outcomes: list["Outcome"] | None = None,
    bulk_problem: str | None = None,
    status_code: int = 200,
    template: str = "console/queues.html",
) -> HTMLResponse:
    now = datetime.now(UTC)
    return page(
        request,
        template,
        status_code=status_code,
        agent=agent,
        shown=shown,
        query=shown.query,
        views=VIEW_NAMES,
        view_name=VIEW_NAMES[shown.view],
        statuses=STATUS_WORDS,
        priorities=PRIORITY_WORDS,
        live=live_filter(shown, agent),
        live_url=f"/agent/live?{urlencode({'after': shown.cursor})}"
        if shown.cursor
        else "/agent/live",
        now_ms=int(now.timestamp() * 1000),
        bulk_key=new_form_key(),
        outcomes=outcomes or [],
        bulk_problem=bulk_problem,
        back=shown.query.query_string(view=shown.view.value),
        known=known_values(shown, agent),
        sort_link=lambda key: _sort_link(shown, key),
        aria_sort=lambda key: _aria_sort(shown, key),
    )


def _current_sort(shown: Shown) -> tuple[str, str]:
    key = shown.query.sort or default_sort(shown.view)
    natural = "asc" if key in ("due", "number") else "desc"
    return key, shown.query.order or natural


def _sort_link(shown: Shown, key: str) -> str:
    current, order = _current_sort(shown)
    if key == current:
        flipped = "desc" if order == "asc" else "asc"
        return shown.query.link(view=shown.view.value, sort=key, order=flipped)
    return shown.query.link(view=shown.view.value, sort=key, order="")


def _aria_sort(shown: Shown, key: str) -> str:
    current, order = _current_sort(shown)
    if key != current:
        return "none"
    return "ascending" if order == "asc" else "descending"


async def agent_or_unreachable(request: Request, api: ApiDep) -> SignedIn | None:
    """The signed-in agent; None when the API cannot be reached to say who it is."""
    try:
        return await signed_in(request, api)
    except ApiError as err:
        if err.status == 0 or err.status >= 500:
            return None
        raise


@router.get("", response_class=HTMLResponse, response_model=None)
async def queues_page(
    request: Request,
    agent: Annotated[SignedIn | None, Depends(agent_or_unreachable)],
    api: ApiDep,
    query: Annotated[QueueQuery, Query()],
) -> Response:
    """The page; only its rows and counts when the page's script asks (`X-Queue-Part`)."""
    part = request.headers.get("X-Queue-Part")
    if request.headers.get("HX-Boosted") and not part:
        # Reached by a boosted link of another console page: a whole load, so that this
        # page's own scripts (the live rows, the keys) run.
        return Response(headers={"HX-Redirect": str(request.url)})
    if agent is None:
        return page(
            request,
            "problem.html",
            status_code=503,
            title="The queues cannot be shown just now",
            message="The help desk's API cannot be reached. Try again in a moment.",
            retry=f"/agent?{request.url.query}" if request.url.query else "/agent",
        )
    if part in ("rows", "counts"):
        shown = await gather_page(api, agent, query, rows=part == "rows")
        template = "console/queue_part.html" if part == "rows" else "console/queue_views.html"
        return render(request, agent, shown, template=template)
    shown = await gather_page(api, agent, query, live=True)
    return render(request, agent, shown)


async def _feed_head(api: IntakeApi, agent: SignedIn) -> str:
    """Where the change feed is before the rows are read: the live stream starts there, so a
    change made while the page loads is not missed."""
    try:
        answer = await api.call("GET", "/api/v1/events/head", credential=agent.token)
    except ApiError:
        return ""  # the stream starts from when it connects
    cursor: str = answer.json()["cursor"]
    return cursor


# Bulk actions


BULK_FIELDS = ("agent", "team", "priority", "department")


class Action(StrEnum):
    ASSIGN = "assign"
    PRIORITY = "priority"
    TRANSFER = "transfer"
    RESOLVE = "resolve"
    CLOSE = "close"


@dataclass(frozen=True)
class Outcome:
    number: str
    applied: bool
    reason: str = ""


def bulk_command(action: Action, form: dict[str, str]) -> tuple[dict[str, Any] | None, str]:
    """The body every ticket's command carries, and a fingerprint of it; or (None, why not)."""
    if action is Action.ASSIGN:
        who = {k: v for k, v in (("agent", form["agent"]), ("team", form["team"])) if v}
        if not who:
            return None, "Name an agent or a team to assign the tickets to."
        return who, f"{who.get('agent', '')}/{who.get('team', '')}"
    if action is Action.PRIORITY:
        if form["priority"] not in PRIORITY_WORDS:
            return None, "Choose a priority."
        return {"priority": form["priority"]}, form["priority"]
    if action is Action.TRANSFER:
        if not form["department"]:
            return None, "Name the department to transfer the tickets to."
        return {"department": form["department"]}, form["department"]
    return {}, ""


def refusal(err: ApiError) -> str:
    """Why the API did not apply one ticket's command, for the agent."""
    if err.status in (0, 502, 503, 504):
        return "not applied: the help desk is not answering just now (try again)"
    if err.status == 404:
        return "refused: there is no such ticket"
    if err.status == 401:
        return "refused: your sign-in has ended"
    detail = err.detail.strip() or f"the API answered {err.status}"
    return f"refused: {detail}"


async def send_each(
    api: IntakeApi,
    agent: SignedIn,
    action: Action,
    body: dict[str, Any],
    keys: dict[str, str],
) -> list[Outcome]:
    """One command per ticket, each with its own Idempotency-Key; a few at a time."""
    gate = asyncio.Semaphore(BULK_AT_ONCE)

    async def send(number: str) -> Outcome:
        async with gate:
            try:
                await api.call(
                    "POST",
                    f"{TICKETS}/{number}/{action.value}",
                    credential=agent.token,
                    headers={"Idempotency-Key": keys[number]},
                    json=body,
                )
            except ApiError as err:
                return Outcome(number, False, refusal(err))
        return Outcome(number, True)

    return list(await asyncio.gather(*(send(number) for number in keys)))


@dataclass(frozen=True)
class BulkRequest:
    action: Action
    body: dict[str, Any]
    fingerprint: str  # what the commands ask, in their Idempotency-Keys
    numbers: list[str]


def bulk_request(form: FormData) -> BulkRequest | str:
    """What a bulk form asks, or why it cannot be sent."""
    numbers = list(dict.fromkeys(n for n in form.getlist("ticket") if isinstance(n, str)))
    if not numbers:
        return "Select the tickets first: nothing was sent."
    if len(numbers) > MAX_BULK or not all(n.isdigit() and 6 <= len(n) <= 16 for n in numbers):
        return f"Select at most {MAX_BULK} tickets of this list: nothing was sent."
    try:
        action = Action(text(form, "action"))
    except ValueError:
        return "Choose what to do with the selected tickets: nothing was sent."
    body, fingerprint = bulk_command(action, {n: text(form, n).strip() for n in BULK_FIELDS})
    if body is None:
        return fingerprint
    return BulkRequest(action, body, fingerprint, numbers)


@router.post("/bulk", response_class=HTMLResponse, response_model=None)
async def bulk(request: Request, agent: AgentDep, api: ApiDep, form: PostedForm) -> Response:
    """Each selected ticket's command on its own: the page then says, per ticket, whether it
    was applied or why it was refused."""
    try:
        query = QueueQuery.model_validate(dict(parse_qsl(text(form, "back"))))
    except ValidationError:
        query = QueueQuery()
    asked = bulk_request(form) if agent.writes else "Viewers may read tickets, not change them."
    if isinstance(asked, str):
        shown = await gather_page(api, agent, query)
        status = 422 if agent.writes else 403
        return render(request, agent, shown, bulk_problem=asked, status_code=status)
    settings: Settings = request.app.state.settings
    bulk_key = text(form, "bulk_key")[:64] or new_form_key()
    prefix = f"bulk:{bulk_key}:{asked.action}:{asked.fingerprint}"
    keys = {
        n: idempotency_key(settings, request.state.portal, f"{prefix}:{n}") for n in asked.numbers
    }
    outcomes = await send_each(api, agent, asked.action, asked.body, keys)
    shown = await gather_page(api, agent, query, live=True)
    return render(request, agent, shown, outcomes=outcomes)
