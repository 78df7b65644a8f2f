"""A ticket's page: its status in words, the thread (never internal notes: the API leaves
them out for the requester), replies with files, closing it, and its files."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from services.web.api import ApiError, Fault, IntakeApi, Ticket
from services.web.deps import ApiDep, PortalDep, SettingsDep
from services.web.downloads import passed_on
from services.web.forms import beside_fields, files, form_key, new_form_key, text
from services.web.render import page, see_other
from services.web.security import PostedForm
from services.web.session import PortalSession, idempotency_key
from services.web.words import problem
from shared.domain.enums import ThreadKind, TicketStatus

router = APIRouter()
Number = Annotated[str, Path(pattern=r"^[1-9][0-9]{5,15}$")]
AttachmentId = Annotated[str, Path(pattern=r"^[0-9a-f]{40}$")]
STATUS_WORDS = {
    TicketStatus.OPEN: "We're working on it",
    TicketStatus.PENDING: "Waiting for your answer",
    TicketStatus.RESOLVED: "Resolved: close it, or reply if it isn't",
    TicketStatus.CLOSED: "Closed",
}
REPLY_FAULTS = {"message": "message", "files": "files"}
RATING_FAULTS = {"rating": "rating", "comment": "comment"}
RATINGS = ("good", "bad")


def _signed_out(request: Request, number: str, portal: PortalSession, expired: bool) -> Response:
    """Not signed in for this ticket (or no longer): the way to a fresh link."""
    if expired:
        portal.sign_out(number)
    return page(
        request, "signed_out.html", status_code=403, number=number, expired=expired, email=""
    )


def _unreadable(request: Request, err: ApiError, number: str, settings: Any) -> Response:
    code = err.status if err.status >= 400 else 503
    return page(
        request,
        "problem.html",
        status_code=code,
        title="The ticket could not be shown",
        message=problem(err, settings),
        retry=f"/tickets/{number}",
    )


async def _current(api: IntakeApi, number: str, credential: str) -> Ticket | None:
    """The ticket as it is now, to show the page again after a refusal; None when it cannot
    be read just now."""
    try:
        return await api.ticket(number, credential)
    except ApiError:
        return None


def ticket_page(
    request: Request,
    ticket: Ticket | None,
    *,
    number: str,
    status_code: int = 200,
    message: str = "",
    errors: dict[str, str] | None = None,
    problems: list[str] | None = None,
    reply_open: bool = False,
    rating: str = "",
    comment: str = "",
) -> Response:
    """The page; `ticket` None when it could not be read just now (the reply box, with the
    text typed, is shown all the same)."""
    responded = ticket is not None and any(
        entry.kind is ThreadKind.RESPONSE for entry in ticket.thread or []
    )
    return page(
        request,
        "ticket.html",
        status_code=status_code,
        number=number,
        ticket=ticket,
        status_words=STATUS_WORDS[ticket.status] if ticket else "",
        awaiting_first_answer=ticket is not None
        and not responded
        and ticket.status in (TicketStatus.OPEN, TicketStatus.PENDING),
        message=message,
        reply_key=new_form_key(),
        close_key=new_form_key(),
        rating_key=new_form_key(),
        rating=rating,
        comment=comment,
        errors=errors or {},
        problems=problems or [],
        reply_open=reply_open or request.query_params.get("reply") == "1",
        Status=TicketStatus,
    )


@router.get("/tickets/{number}", response_class=HTMLResponse, response_model=None)
async def show_ticket(
    request: Request, number: Number, api: ApiDep, portal: PortalDep, settings: SettingsDep
) -> Response:
    credential = portal.credential(number)
    if credential is None:
        return _signed_out(request, number, portal, expired=False)
    try:
        ticket = await api.ticket(number, credential)
    except ApiError as err:
        if err.status in (401, 403, 404):
            return _signed_out(request, number, portal, expired=True)
        return _unreadable(request, err, number, settings)
    return ticket_page(request, ticket, number=number)


@router.post("/tickets/{number}/replies", response_model=None)
async def reply(
    request: Request,
    number: Number,
    form: PostedForm,
    api: ApiDep,
    portal: PortalDep,
    settings: SettingsDep,
) -> Response:
    """303 back to the page; on a refusal the page again, with the text typed still there."""
    credential = portal.credential(number)
    if credential is None:
        await form.close()
        return _signed_out(request, number, portal, expired=False)
    message = text(form, "message")
    key = idempotency_key(settings, portal, form_key(form))
    chosen = files(form)
    try:
        await api.reply(number, credential, message, chosen, idempotency_key=key)
    except ApiError as err:
        if err.status == 401:
            return _signed_out(request, number, portal, expired=True)
        errors, others = beside_fields(err.faults, REPLY_FAULTS)
        if chosen:
            others.append("Please choose your files again: a browser forgets them after an error.")
        return ticket_page(
            request,
            await _current(api, number, credential),
            number=number,
            status_code=err.status or 503,
            message=message,
            errors=errors,
            problems=[problem(err, settings), *others],
            reply_open=True,
        )
    finally:
        await form.close()
    return see_other(request, f"/tickets/{number}#latest")


@router.get("/tickets/{number}/close", response_class=HTMLResponse, response_model=None)
async def confirm_close(request: Request, number: Number, portal: PortalDep) -> Response:
    if portal.credential(number) is None:
        return _signed_out(request, number, portal, expired=False)
    return page(request, "close.html", number=number, close_key=new_form_key(), problems=[])


@router.post("/tickets/{number}/close", response_model=None)
async def close(
    request: Request,
    number: Number,
    form: PostedForm,
    api: ApiDep,
    portal: PortalDep,
    settings: SettingsDep,
) -> Response:
    """Close it (after the confirmation page, or "Yes" to "Did this solve your problem?")."""
    await form.close()
    credential = portal.credential(number)
    if credential is None:
        return _signed_out(request, number, portal, expired=False)
    key = idempotency_key(settings, portal, form_key(form))
    try:
        await api.close(number, credential, idempotency_key=key)
    except ApiError as err:
        return page(
            request,
            "close.html",
            status_code=err.status or 503,
            number=number,
            close_key=new_form_key(),
            problems=[problem(err, settings)],
        )
    return see_other(request, f"/tickets/{number}")


@router.post("/tickets/{number}/rating", response_model=None)
async def rate(
    request: Request,
    number: Number,
    form: PostedForm,
    api: ApiDep,
    portal: PortalDep,
    settings: SettingsDep,
) -> Response:
    """Rate the closed ticket (once per closure: the API decides), with an optional comment."""
    await form.close()
    credential = portal.credential(number)
    if credential is None:
        return _signed_out(request, number, portal, expired=False)
    rating, comment = text(form, "rating"), text(form, "comment").strip()
    key = idempotency_key(settings, portal, form_key(form))
    try:
        if rating not in RATINGS:  # no choice made: the API would name the field the same way
            raise ApiError(422, "choose one", [Fault("rating", "Choose good or bad")])
        await api.rate(number, credential, rating, comment or None, idempotency_key=key)
    except ApiError as err:
        if err.status == 401:
            return _signed_out(request, number, portal, expired=True)
        errors, others = beside_fields(err.faults, RATING_FAULTS)
        return ticket_page(
            request,
            await _current(api, number, credential),
            number=number,
            status_code=err.status or 503,
            errors=errors,
            problems=[problem(err, settings), *others],
            rating=rating,
            comment=comment,
        )
    return see_other(request, f"/tickets/{number}#rating")


@router.get("/tickets/{number}/attachments/{attachment_id}", response_model=None)
async def download(
    request: Request,
    number: Number,
    attachment_id: AttachmentId,
    api: ApiDep,
    portal: PortalDep,
    settings: SettingsDep,
) -> Response:
    """The file, through the API with this browser's credential; never shown inline."""
    credential = portal.credential(number)
    if credential is None:
        return _signed_out(request, number, portal, expired=False)
    try:
        answer, content = await api.download(number, attachment_id, credential)
    except ApiError as err:
        if err.status == 401:
            return _signed_out(request, number, portal, expired=True)
        return _unreadable(request, err, number, settings)
    return passed_on(answer, content)
