"""The API docs pages, Swagger UI at /docs and ReDoc at /redoc, with their scripts, styles and
icon served from this package under /docs/static, never from a CDN: the pages work on a
machine without internet. The assets are vendored unchanged from npm, with their licences
(services/docs_static/README.md says which versions and how to update them).

Each page's Content-Security-Policy lets it load nothing from elsewhere: the browser itself
keeps the pages on this server (ReDoc, for one, would fetch its logo from the vendor's CDN)."""

import base64
import hashlib
import os
import re
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.staticfiles import PathLike
from starlette.types import Scope

SWAGGER_UI_VERSION = "5.35.0"  # npm swagger-ui-dist, Apache-2.0
REDOC_VERSION = "2.5.4"  # npm redoc, MIT
ASSETS_DIR = Path(__file__).parent / "docs_static"
ASSETS_URL = "/docs/static"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"

SWAGGER_JS = "swagger-ui/swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui/swagger-ui.css"
FAVICON = "swagger-ui/favicon-32x32.png"
REDOC_JS = "redoc/redoc.standalone.js"


INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def same_origin_only(page: HTMLResponse) -> HTMLResponse:
    """Set the page's CSP: scripts from here or inline ones by hash (FastAPI's pages start
    their UI from one), styles from here or inline (both UIs set some), images from here or
    data: URLs, requests to this origin only, and no framing."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in INLINE_SCRIPT.findall(page.body)
    )
    page.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "worker-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
    return page


class DocsAssets(StaticFiles):
    """The vendored files; browsers may keep them but ask again (ETag) before each use, so
    an upgrade shows at once (an app's own default, such as intake's no-store, is replaced)."""

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = "no-cache"
        return response


def install_docs(app: FastAPI) -> None:
    """Serve /docs (and its OAuth2 redirect page) and /redoc with the local assets. The app is
    built with `docs_url=None, redoc_url=None`, so FastAPI adds no CDN-backed pages itself;
    any access rule of the app (notify's token) guards these paths as it did FastAPI's."""
    openapi_url = app.openapi_url
    if openapi_url is None:
        return

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '').rstrip('/')}{ASSETS_URL}/{name}"

    async def swagger_ui(request: Request) -> HTMLResponse:
        root_path = request.scope.get("root_path", "").rstrip("/")
        redirect = app.swagger_ui_oauth2_redirect_url
        page = get_swagger_ui_html(
            openapi_url=root_path + openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=asset(request, SWAGGER_JS),
            swagger_css_url=asset(request, SWAGGER_CSS),
            swagger_favicon_url=asset(request, FAVICON),
            oauth2_redirect_url=root_path + redirect if redirect else None,
            init_oauth=app.swagger_ui_init_oauth,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        return same_origin_only(page)

    async def swagger_ui_redirect(_: Request) -> HTMLResponse:
        return same_origin_only(get_swagger_ui_oauth2_redirect_html())

    async def redoc(request: Request) -> HTMLResponse:
        root_path = request.scope.get("root_path", "").rstrip("/")
        page = get_redoc_html(
            openapi_url=root_path + openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=asset(request, REDOC_JS),
            redoc_favicon_url=asset(request, FAVICON),
            with_google_fonts=False,
        )
        return same_origin_only(page)

    app.mount(ASSETS_URL, DocsAssets(directory=ASSETS_DIR), name="docs-assets")
    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    if app.swagger_ui_oauth2_redirect_url:
        app.add_route(
            app.swagger_ui_oauth2_redirect_url, swagger_ui_redirect, include_in_schema=False
        )
    app.add_route(REDOC_URL, redoc, include_in_schema=False)
