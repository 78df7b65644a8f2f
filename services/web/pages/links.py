"""The link mailed to a requester, `/t/{number}?k=<credential>`: it signs the browser in for
that ticket, then sends it on to the ticket's page, whose URL holds no credential (so none
sits in the history or goes out in a Referer)."""

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.web.api import ApiError
from services.web.deps import ApiDep, PortalDep
from services.web.pages.ticket import Number
from services.web.render import page, see_other

router = APIRouter()


def _fresh_link(request: Request, number: str) -> Response:
    return page(request, "signed_out.html", status_code=403, number=number, expired=True, email="")


@router.get("/t/{number}", response_model=None)
async def follow_link(
    request: Request,
    number: Number,
    api: ApiDep,
    portal: PortalDep,
    k: str = Query(default="", max_length=200),
) -> Response:
    """The API judges the credential (the portal has no rule of its own): one it refuses,
    expired, tampered with or another ticket's, leads to the form for a fresh link."""
    credential = k.strip()
    if not credential:
        return _fresh_link(request, number)
    try:
        await api.ticket(number, credential)
    except ApiError as err:
        if err.status in (401, 403, 404, 422):
            return _fresh_link(request, number)
        return page(
            request,
            "problem.html",
            status_code=err.status if err.status >= 400 else 503,
            title="The link could not be checked",
            message="The link could not be checked just now; nothing was changed. "
            "Please open it again in a moment.",
            retry=None,
        )
    portal.sign_in(number, credential)
    return see_other(request, f"/tickets/{number}")
