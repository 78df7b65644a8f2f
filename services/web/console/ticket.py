"""The console's ticket page (`/agent/tickets/{n}`): the header with its SLA countdowns, the
thread with internal notes set apart, the composer, the actions, the timeline, and who else
is here (services.web.console.presence).

A client of `/api/v1` with the agent's own credential, like every console page. Every command
sent from the page carries the version the page was rendered at (If-Match): a reply written
while the ticket changed is refused (412) and the page comes back with the new entries marked,
the draft kept, and the new version in the form, so the next send is a deliberate one."""

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.datastructures import FormData

from services.web.api import TICKETS, ApiError, ApiModel, Entry, Fault, IntakeApi, Requester
from services.web.console.agent import AgentDep, NotSignedIn, SignedIn
from services.web.console.presence import presence_of
from services.web.deps import ApiDep, PortalDep
from services.web.forms import beside_fields, files, form_key, new_form_key, text
from services.web.render import page, see_other
from services.web.security import PostedForm
from services.web.session import PortalSession, idempotency_key
from services.web.words import problem
from shared.domain.enums import ClockOutcome, Priority, SlaClock, TicketStatus
from shared.domain.ids import ticket_workflow_id
from shared.settings import Settings

router = APIRouter(prefix="/agent/tickets")
Number = Annotated[str, Path(pattern=r"^[1-9][0-9]{5,15}$")]
AttachmentId = Annotated[str, Path(pattern=r"^[0-9a-f]{40}$")]
T = TypeVar("T")
CHANGED = "The ticket changed while you wrote: read the new entries above, then send again."
CHANGED_UNDER_ACTION = (
    "The ticket changed since this page was loaded: check what changed, then do it again."
)
CHANGED_ELSEWHERE = (
    "The ticket changed since this page was loaded (see its status and timeline): "
    "check it, then send again."
)


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
    role: str | None = None
    active: bool = True


@dataclass(frozen=True)
class Directory:
    """Whom a ticket can go to, for the assign and transfer fields (admins may list them)."""

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


@dataclass
class Draft:
    kind: str = "reply"
    message: str = ""
    remind_at: str = ""


@dataclass
class Refusal:
    """What went wrong with a send, shown beside the form it came from (`where`)."""

    where: str  # composer, or an action's name
    sentence: str
    others: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # field id -> message
    values: dict[str, str] = field(default_factory=dict)  # what was typed, by field id


@dataclass(frozen=True)
class Action:
    path: str  # under the ticket's API path
    fields: tuple[str, ...]  # the form's fields, named the same in the API's body
    done: str
    method: str = "POST"


ACTIONS = {
    "assign-me": Action("assign", (), "Assigned to you."),
    "assign": Action("assign", ("agent", "team"), "Assigned."),
    "priority": Action("priority", ("priority",), "Priority changed."),
    "transfer": Action("transfer", ("department",), "Transferred."),
    "pending": Action("pending", ("remind_at",), "Set pending."),
    "resolve": Action("resolve", ("resolution",), "Resolved."),
    "close": Action("close", (), "Closed."),
    "reopen": Action("reopen", (), "Reopened."),
    "link": Action("links", ("system", "id", "url"), "Linked."),
    "unlink": Action("links", ("system", "id"), "Unlinked.", method="DELETE"),
}
SENT = {"reply": "Reply sent.", "note": "Note added."}
FOLLOW_UPS = {"resolve": ("resolve", "resolved"), "pending": ("pending", "set pending")}
STATUS_WORDS = {
    TicketStatus.OPEN: "Open",
    TicketStatus.PENDING: "Pending: waiting on the requester",
    TicketStatus.RESOLVED: "Resolved",
    TicketStatus.CLOSED: "Closed",
}
CLOCK_WORDS = {
    SlaClock.FIRST_RESPONSE: "First response",
    SlaClock.NEXT_RESPONSE: "Next response",
    SlaClock.RESOLUTION: "Resolution",
}


# Times in words; static/console-ticket.js says them the same way as they tick on.


def span(seconds: float) -> str:
    minutes = int(max(seconds, 0) // 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def ago(moment: datetime, now: datetime) -> str:
    seconds = (now - moment).total_seconds()
    return "just now" if seconds < 60 else f"{span(seconds)} ago"


def exact(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%-d %b %Y, %H:%M:%S UTC")


def clock_words(clock: Clock, now: datetime) -> str:
    if clock.outcome is not ClockOutcome.RUNNING:
        return {ClockOutcome.MET: "met", ClockOutcome.LATE: "met late"}.get(
            clock.outcome, "cancelled"
        )
    if clock.paused:
        return "paused"
    left = (clock.due_at - now).total_seconds()
    return f"due in {span(left)}" if left > 0 else f"breached {span(-left)} ago"


def temporal_link(settings: Settings, number: str) -> str | None:
    if not settings.temporal_ui_url:
        return None
    namespace = quote(settings.temporal_namespace, safe="")
    workflow = quote(ticket_workflow_id(number), safe="")
    return f"{settings.temporal_ui_url.rstrip('/')}/namespaces/{namespace}/workflows/{workflow}"


# Reading the ticket and what the page shows beside it


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
    agents, teams, departments = await asyncio.gather(
        *(_json(api, agent, f"/api/v1/admin/{kind}") for kind in ("agents", "teams", "departments"))
    )

    def named(data: Any) -> list[Named]:
        return [Named.model_validate(item) for item in data["items"]]

    assignable = [a for a in named(agents) if a.active and a.role != "viewer"]
    return Directory(assignable, named(teams), named(departments))


async def _nothing() -> None:
    return None


async def load(api: IntakeApi, agent: SignedIn, number: str) -> Loaded:
    """The ticket (ApiError if it cannot be read), and what may be missing beside it."""
    path = f"{TICKETS}/{number}"
    wanted = agent.is_admin and agent.writes
    found, timeline, topics, directory = await asyncio.gather(
        _json(api, agent, path),
        _optional(_json(api, agent, f"{path}/timeline")),
        _optional(api.help_topics()),
        _optional(_directory(api, agent)) if wanted else _nothing(),
        return_exceptions=True,
    )
    # Every call has ended, none left running unseen; a failure other than the API's refusal
    # of a part that may be missing (None) fails the page, the ticket's own first.
    for answer in (found, timeline, topics, directory):
        if isinstance(answer, BaseException):
            raise answer
    ticket = AgentTicket.model_validate(found)
    email = ticket.requester.email
    listed = await _optional(_json(api, agent, TICKETS, q=email, per_page=20))
    others = None
    if listed is not None:
        summaries = [Summary.model_validate(item) for item in listed["items"]]
        others = [
            s
            for s in summaries
            if s.number != number and s.requester.email.lower() == email.lower()
        ]
    return Loaded(
        ticket=ticket,
        timeline=[Event.model_validate(e) for e in timeline["events"]]
        if isinstance(timeline, dict)
        else None,
        others=others,
        topics={t.handle: t.name for t in topics} if isinstance(topics, list) else {},
        directory=directory if isinstance(directory, Directory) else None,
    )


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


# Sending


async def send_command(
    api: IntakeApi,
    agent: SignedIn,
    number: str,
    path: str,
    *,
    version: str,
    key: str,
    method: str = "POST",
    **body: Any,
) -> int:
    """One command with the version the page saw (If-Match): the ticket's new version."""
    if not version.isdigit() or len(version) > 18:
        raise ApiError(412, "the page named no version")  # an old or altered form: read again
    headers = {"Idempotency-Key": key, "If-Match": f'"{version}"'}
    answer = await api.call(
        method, f"{TICKETS}/{number}/{path}", credential=agent.token, headers=headers, **body
    )
    return int(answer.json()["version"])


def refusal_words(err: ApiError, settings: Settings) -> str:
    if err.status == 412:
        return CHANGED
    if err.status == 403:
        return (
            f"Not allowed: {_sentence(err.detail or 'your role may not do this')} Nothing was sent."
        )
    if err.status == 404:
        return f"Not done: {_sentence(err.detail or 'there is no such thing')}"
    return problem(err, settings)


def _sentence(words: str) -> str:
    words = words.strip()
    return words if words.endswith(".") else words + "."


def _seen(form: FormData) -> int | None:
    value = text(form, "seen")
    return int(value) if value.isdigit() and len(value) < 7 else None


def remind_at(value: str) -> str | None:
    """A datetime-local field's value (read as UTC, as the page says) in ISO 8601."""
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as err:
        raise ApiError(422, "", [Fault("remind_at", "Give a date and a time")]) from err
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def _key(request: Request, portal: PortalSession, form: FormData, suffix: str = "") -> str:
    return idempotency_key(request.app.state.settings, portal, form_key(form) + suffix)


@router.post("/{number}/messages", response_model=None)
async def send_message(
    request: Request,
    number: Number,
    form: PostedForm,
    api: ApiDep,
    agent: AgentDep,
    portal: PortalDep,
) -> Response:
    """A public reply or an internal note, with files; then, if asked, resolve or set
    pending. 303 back to the page; a refusal shows the page again with the text kept."""
    settings: Settings = request.app.state.settings
    kind = "note" if text(form, "kind") == "note" else "reply"
    then = text(form, "then")
    draft = Draft(kind, text(form, "message"), text(form, "remind_at"))
    version, chosen = text(form, "version"), files(form)
    try:
        remind = remind_at(draft.remind_at) if then == "pending" else None
        body: dict[str, Any] = {"json": {"message": draft.message}}
        if chosen:
            parts = [("files", (f.name, f.file, f.content_type)) for f in chosen]
            body = {"data": {"message": draft.message}, "files": parts}
        path = "replies" if kind == "reply" else "notes"
        new = await send_command(
            api, agent, number, path, version=version, key=_key(request, portal, form), **body
        )
    except ApiError as err:
        errors, others = beside_fields(
            err.faults,
            {
                "message": "composer-message",
                "files": "composer-files",
                "remind_at": "composer-remind",
            },
        )
        if chosen:
            others.append("Please choose your files again: a browser forgets them after an error.")
        return await ticket_page(
            request,
            api=api,
            agent=agent,
            number=number,
            status_code=err.status or 503,
            draft=draft,
            refusal=Refusal("composer", refusal_words(err, settings), others, errors),
            seen=_seen(form),
            version=version,
        )
    finally:
        await form.close()
    presence_of(request).changed(number, new, agent.name)
    if then in FOLLOW_UPS:
        path, done = FOLLOW_UPS[then]
        follow: dict[str, Any] = {"json": {"remind_at": remind} if remind else {}}
        try:
            new = await send_command(
                api,
                agent,
                number,
                path,
                version=str(new),
                key=_key(request, portal, form, f"-{then}"),
                **follow,
            )
        except ApiError as err:
            what = "reply was sent" if kind == "reply" else "note was added"
            words = refusal_words(err, settings)
            return await ticket_page(
                request,
                api=api,
                agent=agent,
                number=number,
                status_code=err.status or 503,
                refusal=Refusal("composer", f"Your {what}, but the ticket was not {done}: {words}"),
                sent=kind,
            )
        presence_of(request).changed(number, new, agent.name)
    return see_other(request, f"/agent/tickets/{number}?sent={kind}#latest")


def _action_body(name: str, form: FormData, agent: SignedIn) -> dict[str, Any]:
    """The API's body (or path) for action `name` from its form; ApiError(422) beside a
    field left empty that the action needs."""
    values = {f: text(form, f).strip() for f in ACTIONS[name].fields}
    if name == "assign-me":
        return {"json": {"agent": agent.handle}}
    if name == "assign" and not (values["agent"] or values["team"]):
        raise ApiError(422, "", [Fault("agent", "Name an agent or a team (or both)")])
    if name == "pending":
        remind = remind_at(values["remind_at"])
        return {"json": {"remind_at": remind} if remind else {}}
    if name == "unlink":
        system, ref_id = (quote(values[f], safe="") for f in ("system", "id"))
        return {"suffix": f"/{system}/{ref_id}"}
    if name in ("close", "reopen"):
        return {}
    missing = [f for f in ("priority", "department", "system", "id") if values.get(f) == ""]
    if missing:
        raise ApiError(422, "", [Fault(f, "Fill this in") for f in missing])
    return {"json": {f: v for f, v in values.items() if v}}


@router.post("/{number}/actions/{name}", response_model=None)
async def act(
    request: Request,
    number: Number,
    name: str,
    form: PostedForm,
    api: ApiDep,
    agent: AgentDep,
    portal: PortalDep,
) -> Response:
    """One action of the page's actions panel: 303 back with what was done, or the page
    again with the refusal beside the action's form and what was typed in it."""
    await form.close()
    if name not in ACTIONS:
        raise HTTPException(404)
    settings: Settings = request.app.state.settings
    action = ACTIONS[name]
    values = {f"{name}-{f}": text(form, f) for f in action.fields}
    try:
        body = _action_body(name, form, agent)
        suffix = body.pop("suffix", "")
        new = await send_command(
            api,
            agent,
            number,
            action.path + suffix,
            version=text(form, "version"),
            key=_key(request, portal, form),
            method=action.method,
            **body,
        )
    except ApiError as err:
        errors, others = beside_fields(err.faults, {f: f"{name}-{f}" for f in action.fields})
        words = CHANGED_UNDER_ACTION if err.status == 412 else refusal_words(err, settings)
        refusal = Refusal(name, words, others, errors, values)
        return await ticket_page(
            request,
            api=api,
            agent=agent,
            number=number,
            status_code=err.status or 503,
            refusal=refusal,
            seen=_seen(form),
            version=text(form, "version"),
        )
    presence_of(request).changed(number, new, agent.name)
    return see_other(request, f"/agent/tickets/{number}?done={name}#actions")


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
    headers = {
        name: answer.headers[name]
        for name in ("Content-Disposition", "Content-Length")
        if name in answer.headers
    }
    headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return StreamingResponse(
        content,
        media_type=answer.headers.get("Content-Type", "application/octet-stream"),
        headers=headers,
        background=BackgroundTask(answer.aclose),
    )
