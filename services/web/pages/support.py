"""The support center (`/`) and the status form (`/status`): a fresh link by mail."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from services.web.api import ApiError, HelpTopic
from services.web.deps import ApiDep, SettingsDep, client_of, limit
from services.web.forms import text
from services.web.render import page
from services.web.security import PostedForm
from services.web.words import NOT_SENT, problem, retry_in

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def support_center(request: Request, api: ApiDep) -> HTMLResponse:
    topics: list[HelpTopic] = []
    unavailable = False
    try:
        topics = await api.help_topics()
    except ApiError:
        unavailable = True  # the page still offers both doors
    return page(request, "home.html", topics=topics, topics_unavailable=unavailable)


@router.get("/status", response_class=HTMLResponse)
async def status_form(request: Request) -> HTMLResponse:
    return _status_page(request, number="", email="")


def _status_page(
    request: Request,
    *,
    number: str,
    email: str,
    status_code: int = 200,
    error: str | None = None,
    sent: bool = False,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    return page(
        request,
        "status.html",
        status_code=status_code,
        headers=headers,
        number=number,
        email=email,
        error=error,
        sent=sent,
    )


@router.post("/status", response_class=HTMLResponse)
async def request_link(
    request: Request, form: PostedForm, api: ApiDep, settings: SettingsDep
) -> HTMLResponse:
    """The same words whether or not the number and address match: nobody learns here which
    tickets or addresses exist."""
    await form.close()
    number, email = text(form, "number").strip(), text(form, "email").strip()
    wait = limit(request, "status").take(client_of(request))
    if wait is not None:
        return _status_page(
            request,
            number=number,
            email=email,
            status_code=429,
            error=f"Too many requests from here. Please try again {retry_in(wait)}.",
            headers={"Retry-After": str(wait)},
        )
    if not number or not email:
        error = "Please give both your ticket number and your email address."
        return _status_page(request, number=number, email=email, status_code=422, error=error)
    try:
        await api.request_link(number, email)
    except ApiError as err:
        # The same words for every other answer: none of them may tell a miss from a match.
        error, code = NOT_SENT, 503
        if err.status == 422:  # the form itself: a number or an address that cannot be one
            error, code = "Please check the ticket number and the email address.", 422
        elif err.status == 429:
            error, code = problem(err, settings), 429
        return _status_page(request, number=number, email=email, status_code=code, error=error)
    return _status_page(request, number=number, email=email, sent=True)
