"""The console's ticket page (`/agent/tickets/{n}`): the header with its SLA countdowns, the
thread with internal notes set apart, the composer (services.web.console.ticket_composer),
the actions (ticket_actions), the timeline, and who else is here
(services.web.console.presence).

A client of `/api/v1` with the agent's own credential, like every console page. Every command
sent from the page carries the version the page was rendered at (If-Match): a reply written
while the ticket changed is refused (412) and the page comes back with the new entries marked,
the draft kept, and the new version in the form, so the next send is a deliberate one."""

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from services.web.api import ApiError, IntakeApi
from services.web.console.agent import AgentDep, NotSignedIn, SignedIn
from services.web.console.ticket_commands import (
    ACTIONS,
    CHANGED,
    CHANGED_ELSEWHERE,
    SENT,
    Draft,
    Refusal,
)
from services.web.console.ticket_data import Loaded, load
from services.web.console.ticket_words import (
    CLOCK_WORDS,
    STATUS_WORDS,
    ago,
    clock_words,
    exact,
)
from services.web.deps import ApiDep
from services.web.downloads import passed_on
from services.web.forms import new_form_key
from services.web.render import page
from services.web.words import problem
from shared.domain.enums import Priority, TicketStatus
from shared.domain.ids import ticket_workflow_id
from shared.settings import Settings

router = APIRouter(prefix="/agent/tickets")
Number = Annotated[str, Path(pattern=r"^[1-9][0-9]{5,15}$")]
AttachmentId = Annotated[str, Path(pattern=r"^[0-9a-f]{40}$")]


def temporal_link(settings: Settings, number: str) -> str | None:
    if not settings.temporal_ui_url:
        return None
    namespace = quote(settings.temporal_namespace, safe="")
    workflow = quote(ticket_workflow_id(number), safe="")
    return f"{settings.temporal_ui_url.rstrip('/')}/namespaces/{namespace}/workflows/{workflow}"


async def ticket_page(
    request: Request,
    *,
    api: IntakeApi,
    agent: SignedIn,
    number: str,
    status_code: int = 200,
    draft: Draft | None = None,
    refusal: Refusal | None = None,
    seen: int | None = None,
    version: str = "",
    sent: str = "",
    done: str = "",
) -> Response:
    """The page; after a refusal, with the typed text and the entries after `seen` marked new
    (and, when the ticket cannot be read just now, the composer with the text all the same)."""
    settings: Settings = request.app.state.settings
    try:
        loaded: Loaded | None = await load(api, agent, number)
    except ApiError as err:
        if err.status == 401:
            raise NotSignedIn(f"/agent/tickets/{number}") from err
        if refusal is None:
            return page(
                request,
                "console/ticket_problem.html",
                status_code=err.status if err.status >= 400 else 503,
                agent=agent,
                number=number,
                message="There is no such ticket." if err.status == 404 else problem(err, settings),
            )
        loaded = None
    thread = (loaded.ticket.thread or []) if loaded else []
    if refusal is not None and refusal.sentence == CHANGED and len(thread) <= (seen or 0):
        refusal.sentence = CHANGED_ELSEWHERE
    return page(
        request,
        "console/ticket.html",
        status_code=status_code,
        agent=agent,
        number=number,
        loaded=loaded,
        t=loaded.ticket if loaded else None,
        thread=thread,
        new_from=seen if refusal is not None and seen is not None else len(thread),
        version=str(loaded.ticket.version) if loaded else version,
        draft=draft or Draft(),
        refusal=refusal,
        sent=sent if sent in SENT else "",
        done=ACTIONS[done].done if done in ACTIONS else SENT.get(sent, ""),
        new_key=new_form_key,
        now=datetime.now(UTC),
        ago=ago,
        exact=exact,
        clock_words=clock_words,
        status_words=STATUS_WORDS,
        clock_names=CLOCK_WORDS,
        priorities=list(Priority),
        Status=TicketStatus,
        temporal_url=temporal_link(settings, number),
    )


@router.get("/{number}", response_class=HTMLResponse, response_model=None)
async def show_ticket(request: Request, number: Number, api: ApiDep, agent: AgentDep) -> Response:
    query = request.query_params
    return await ticket_page(
        request,
        api=api,
        agent=agent,
        number=number,
        sent=query.get("sent", ""),
        done=query.get("done", ""),
    )


@router.get("/{number}/attachments/{attachment_id}", response_model=None)
async def download(
    request: Request, number: Number, attachment_id: AttachmentId, api: ApiDep, agent: AgentDep
) -> Response:
    """A file of the thread (notes' files too), through the API with the agent's credential;
    never shown inline."""
    try:
        answer, content = await api.download(number, attachment_id, agent.token)
    except ApiError as err:
        return page(
            request,
            "console/ticket_problem.html",
            status_code=err.status if err.status >= 400 else 503,
            agent=agent,
            number=number,
            message="There is no such file."
            if err.status == 404
            else problem(err, request.app.state.settings),
        )
    return passed_on(answer, content)
