"""Pages from Jinja2 templates, autoescaped everywhere; user text shown as text, its web
addresses as links."""

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from services.web.session import PortalSession, csrf_token
from shared.domain.attachments import human_size
from shared.settings import Settings

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# http(s) addresses only: any other scheme (javascript:, data:) stays plain text.
_URL = re.compile(r"\bhttps?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def user_text(text: str) -> Markup:
    """`text` escaped, its http(s) addresses as links that neither pass the page on nor vouch
    for the target; line breaks are kept by the stylesheet (white-space: pre-wrap)."""
    parts: list[Markup] = []
    position = 0
    for match in _URL.finditer(text):
        url = match.group(0).rstrip(_TRAILING)
        start, end = match.start(), match.start() + len(url)
        parts.append(escape(text[position:start]))
        parts.append(Markup('<a href="{0}" rel="noopener nofollow ugc">{0}</a>').format(url))
        position = end
    parts.append(escape(text[position:]))
    return Markup("").join(parts)


def when(moment: datetime | None) -> str:
    """A time as people read it, in UTC (the zone the API answers in)."""
    if moment is None:
        return ""
    return moment.strftime("%-d %b %Y, %H:%M UTC")


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["user_text"] = user_text
    env.filters["when"] = when
    env.filters["size"] = human_size
    return env


def page(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """`template` rendered with what every page needs: the desk's name, the session's CSRF
    token, and the path the portal is served under (behind a proxy)."""
    env: Environment = request.app.state.templates
    settings: Settings = request.app.state.settings
    session: PortalSession = request.state.portal
    html = env.get_template(template).render(
        desk_name=settings.desk_name,
        csrf_token=csrf_token(settings, session),
        root=request.scope.get("root_path", "").rstrip("/"),
        settings=settings,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=headers)


def see_other(request: Request, path: str) -> RedirectResponse:
    """303 to a path of the portal (under the prefix it is served at, behind a proxy)."""
    return RedirectResponse(request.scope.get("root_path", "").rstrip("/") + path, status_code=303)
