"""What one rendering of the queues page shows, read from the API (the view's page of rows,
every view's count, where the change feed is), and the page drawn from it."""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse

from services.web.api import TICKETS, ApiError, IntakeApi
from services.web.console.agent import SignedIn
from services.web.console.queue_bulk import Outcome
from services.web.console.queue_rows import QueuePage, Row, ago, sla_of
from services.web.console.queue_views import (
    PRIORITY_WORDS,
    STATUS_WORDS,
    VIEW_NAMES,
    QueueQuery,
    View,
    default_sort,
    list_params,
    view_params,
)
from services.web.forms import new_form_key
from services.web.render import page

PER_PAGE = 25
COUNTS = "/api/v1/ticket-counts"


async def _list(api: IntakeApi, agent: SignedIn, params: dict[str, Any]) -> QueuePage:
    answer = await api.call("GET", TICKETS, credential=agent.token, params=params)
    return QueuePage.model_validate(answer.json())


async def view_counts(api: IntakeApi, agent: SignedIn, now: datetime) -> dict[View, int | None]:
    """Each view's count, in one call (None everywhere when the API did not answer)."""
    filters = {view.value: view_params(view, agent, now) for view in View}
    try:
        answer = await api.call("POST", COUNTS, credential=agent.token, json={"filters": filters})
    except ApiError:
        return dict.fromkeys(View)
    counts: dict[str, int] = answer.json()["counts"]
    return {view: counts.get(view.value) for view in View}


async def _feed_head(api: IntakeApi, agent: SignedIn) -> str:
    """Where the change feed is before the rows are read: the live stream starts there, so a
    change made while the page loads is not missed."""
    try:
        answer = await api.call("GET", "/api/v1/events/head", credential=agent.token)
    except ApiError:
        return ""  # the stream starts from when it connects
    cursor: str = answer.json()["cursor"]
    return cursor


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
    outcomes: list[Outcome] | None = None,
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
