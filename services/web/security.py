"""What every portal answer and every post must satisfy: the headers that keep pages to
their own origin, and the CSRF token of the session on everything that changes something."""

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData
from starlette.types import ASGIApp

from services.security_headers import AddHeaders
from services.web.session import PortalSession, csrf_valid
from shared.settings import Settings

# Scripts, styles, images, requests and forms from this origin only, none inline (the pages
# have no inline script or style), never framed, no plugins, no <base> rewriting.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",  # pages hold a ticket's thread
}
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Form fields besides files: the largest form (a new ticket) has eight.
MAX_FORM_FIELDS = 20


class PageHeaders(AddHeaders):
    """Adds PAGE_HEADERS to every answer that has not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app, PAGE_HEADERS)


class CsrfRefused(Exception):
    """A post without this session's CSRF token: answered 403, and nothing is sent on."""


async def checked_form(request: Request) -> FormData:
    """The posted form, once its CSRF token (the hidden field, or htmx's header) is this
    session's; its files are spooled to disk by the parser, within the attachment limits."""
    settings: Settings = request.app.state.settings
    session: PortalSession = request.state.portal
    form = await request.form(
        max_files=settings.max_attachments_per_message + 1,
        max_fields=MAX_FORM_FIELDS,
        max_part_size=settings.max_body_bytes,
    )
    field = form.get(CSRF_FIELD)
    token = request.headers.get(CSRF_HEADER) or (field if isinstance(field, str) else None)
    if not csrf_valid(settings, session, token):
        await form.close()
        raise CsrfRefused()
    return form


PostedForm = Annotated[FormData, Depends(checked_form)]
