"""Opening a ticket: the form, its answer, and the browser signed in for the new ticket."""

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from services.web.api import ApiError, HelpTopic, IntakeApi, NewTicket
from services.web.deps import ApiDep, PortalDep, SettingsDep, client_of, limit
from services.web.forms import beside_fields, files, form_key, new_form_key, text
from services.web.render import page, see_other
from services.web.security import PostedForm
from services.web.session import idempotency_key
from services.web.words import problem, retry_in
from shared.access import new_link_credential

router = APIRouter()
FIELDS = ("name", "email", "help_topic", "subject", "message")
# Where the API's faults go: its body's paths to the form's fields.
FAULT_FIELDS = {
    "requester.name": "name",
    "requester.email": "email",
    "requester": "name",
    "help_topic": "help_topic",
    "subject": "subject",
    "message": "message",
    "files": "files",
}
HONEYPOT = "website"
# The API answers a help topic it does not know, or no longer offers, 404: on this form that
# is the field's fault (the topic was taken off while the form was open, or typed by hand).
TOPIC_GONE = "This help topic takes no new tickets: please choose another."


async def _topics(api: IntakeApi) -> list[HelpTopic]:
    try:
        return await api.help_topics()
    except ApiError:
        return []  # the field becomes a text box: the API still checks the handle


def _form(
    request: Request,
    topics: list[HelpTopic],
    *,
    values: dict[str, str] | None = None,
    key: str | None = None,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    problems: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    values = values or dict.fromkeys(FIELDS, "")
    context: dict[str, Any] = {
        "topics": topics,
        # Its instructions are shown beside the select without JavaScript too.
        "chosen": next((t for t in topics if t.handle == values["help_topic"]), None),
        "values": values,
        "form_key": key or new_form_key(),
        "errors": errors or {},
        "problems": problems or [],
    }
    return page(request, "new_ticket.html", status_code=status_code, headers=headers, **context)


@router.get("/tickets/new", response_class=HTMLResponse)
async def new_ticket_form(request: Request, api: ApiDep) -> HTMLResponse:
    values = dict.fromkeys(FIELDS, "")
    values["help_topic"] = request.query_params.get("topic", "")
    return _form(request, await _topics(api), values=values)


@router.post("/tickets/new", response_model=None)
async def open_ticket(
    request: Request, form: PostedForm, api: ApiDep, settings: SettingsDep, portal: PortalDep
) -> Response:
    """303 to the new ticket's page, signed in for it. The form's key makes a double click,
    a resubmitted reload or a back-and-resubmit answer the same ticket."""
    try:
        values = {name: text(form, name) for name in FIELDS}
        key = form_key(form)
        if text(form, HONEYPOT):  # only a robot fills a field nobody can see
            return see_other(request, "/")
        wait = limit(request, "tickets").take(client_of(request))
        if wait is not None:
            message = f"Too many tickets from here. Please try again {retry_in(wait)}."
            return _form(
                request,
                await _topics(api),
                values=values,
                key=key,
                status_code=429,
                problems=[message],
                headers={"Retry-After": str(wait)},
            )
        ticket = NewTicket(**values)
        try:
            number = await api.open_ticket(
                ticket, files(form), idempotency_key=idempotency_key(settings, portal, key)
            )
        except ApiError as err:
            errors, others = beside_fields(err.faults, FAULT_FIELDS)
            status_code, problems = err.status or 503, [problem(err, settings), *others]
            if err.status == 404 and "help topic" in err.detail:
                errors, status_code = {"help_topic": TOPIC_GONE}, 422
                problems = [problem(ApiError(422), settings)]
            return _form(
                request,
                await _topics(api),
                values=values,
                key=key,
                status_code=status_code,
                errors=errors,
                problems=problems,
            )
    finally:
        await form.close()
    lifetime = timedelta(days=settings.link_lifetime_days)
    now = datetime.now(UTC)
    portal.sign_in(
        number, new_link_credential(settings.secret_key, number, now=now, lifetime=lifetime)
    )
    return see_other(request, f"/tickets/{number}")
