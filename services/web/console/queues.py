"""The console's queues (`/agent`): a view's page of tickets, narrowed by the search and the
filters (services.web.console.queue_views), with its rows and every view's count
(queue_page), and the bulk actions on the tickets selected (queue_bulk). The page follows the
change feed (services/web/console/live.py) and its script fetches the rows again
(`X-Queue-Part`) when a change concerns them."""

from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from services.web.console.agent import AgentDep, MaybeAgent
from services.web.console.queue_bulk import bulk_request, send_each
from services.web.console.queue_page import gather_page, render
from services.web.console.queue_views import QueueQuery
from services.web.deps import ApiDep
from services.web.forms import new_form_key, text
from services.web.render import page
from services.web.security import PostedForm
from services.web.session import idempotency_key
from shared.settings import Settings

router = APIRouter(prefix="/agent")


@router.get("", response_class=HTMLResponse, response_model=None)
async def queues_page(
    request: Request,
    agent: MaybeAgent,
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
