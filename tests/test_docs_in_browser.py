"""The API docs on a machine without internet: intake's /docs and /redoc, served by a real
uvicorn (SQLite; the Temporal client is lazy and never called), rendered by a real headless
Chromium whose host resolver knows 127.0.0.1 only, so any request for a CDN would fail and
leave the page blank. The browser's network log shows what the page asked for.

The browser tests skip when Chromium is not installed (`make test` installs Debian's)."""

import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from services.docs_assets import ASSETS_DIR
from services.intake.app import create_app
from services.processes import free_port
from shared.settings import Settings
from tests.databases import sqlite_database

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (Debian: apt-get install chromium; `make test` does)",
)

TICKETS = "/api/v1/tickets"
OPERATIONS = [TICKETS, f"{TICKETS}/{{number}}", f"{TICKETS}/{{number}}/assign", "/healthz"]


@pytest.fixture(scope="module")
def intake_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The intake app under a real uvicorn in a thread; yields its base URL."""
    with sqlite_database(tmp_path_factory.mktemp("docs")) as database_url:
        port = free_port()
        app = create_app(Settings(database_url=database_url, environment="test"))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 15
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("intake server did not start")
            time.sleep(0.02)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=15)


@dataclass
class Rendered:
    dom: str
    requests: list[str]  # every URL the page itself asked for, the page first


def render(url: str, workdir: Path) -> Rendered:
    """The DOM of `url` after its scripts ran, and the requests the page made. Chromium's own
    background calls (updates, accounts) are no part of the page, and cannot resolve."""
    assert CHROMIUM is not None
    net_log = workdir / "net-log.json"
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",  # tests may run as root
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-first-run",
        f"--user-data-dir={workdir / 'profile'}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--log-net-log={net_log}",
        "--virtual-time-budget=5000",
        "--dump-dom",
        url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    log = json.loads(net_log.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    origin = "/".join(url.split("/", 3)[:3])  # http://127.0.0.1:PORT
    requests = [url]
    for event in log["events"]:
        params = event.get("params", {})
        if event["type"] == start_job and params.get("initiator") == origin:
            requests.append(params["url"])
    return Rendered(dom=done.stdout, requests=requests)


def assert_stayed_home(rendered: Rendered, base_url: str, wanted: list[str]) -> None:
    elsewhere = [url for url in rendered.requests if not url.startswith(f"{base_url}/")]
    assert elsewhere == [], elsewhere
    paths = {url.removeprefix(base_url) for url in rendered.requests}
    assert set(wanted) <= paths, sorted(paths)


@needs_chromium
def test_swagger_ui_lists_the_operations_without_internet(intake_url: str, tmp_path: Path) -> None:
    rendered = render(f"{intake_url}/docs", tmp_path)
    for path in OPERATIONS:
        assert f'data-path="{path}"' in rendered.dom, path
    # Swagger UI shows "Authorize" only for a document that declares a security scheme.
    authorize = r'<button class="btn authorize[^"]*"[^>]*>\s*<span>Authorize</span>'
    assert re.search(authorize, rendered.dom)
    assert_stayed_home(
        rendered,
        intake_url,
        [
            "/docs/static/swagger-ui/swagger-ui-bundle.js",
            "/docs/static/swagger-ui/swagger-ui.css",
            "/openapi.json",
        ],
    )


@needs_chromium
def test_redoc_lists_the_operations_without_internet(intake_url: str, tmp_path: Path) -> None:
    rendered = render(f"{intake_url}/redoc", tmp_path)
    for path in OPERATIONS:
        assert path in rendered.dom, path
    assert_stayed_home(
        rendered, intake_url, ["/docs/static/redoc/redoc.standalone.js", "/openapi.json"]
    )


LOCAL_REFERENCE = re.compile(r'(?:src|href)="([^"]*)"|url: \'([^\']*)\'')


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_pages_name_only_local_assets(intake_url: str, page: str) -> None:
    """Without a browser: each URL in the page is on this server and is served; the page's
    CSP lets it load nothing from elsewhere."""
    with httpx.Client(base_url=intake_url, timeout=30) as http:
        answer = http.get(page)
        assert answer.status_code == 200
        references = [a or b for a, b in LOCAL_REFERENCE.findall(answer.text)]
        assert references, answer.text
        for reference in references:
            assert reference.startswith("/"), reference
            assert not reference.startswith("//"), reference
            asset = http.get(reference)
            assert asset.status_code == 200, reference
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "https:" not in policy and "*" not in policy


def test_assets_ship_with_their_licences(intake_url: str) -> None:
    expected = {
        "swagger-ui/swagger-ui-bundle.js": "text/javascript",
        "swagger-ui/swagger-ui.css": "text/css",
        "swagger-ui/favicon-32x32.png": "image/png",
        "redoc/redoc.standalone.js": "text/javascript",
    }
    with httpx.Client(base_url=intake_url, timeout=30) as http:
        for name, media_type in expected.items():
            answer = http.get(f"/docs/static/{name}")
            assert answer.status_code == 200, name
            assert answer.headers["content-type"].startswith(media_type), name
            assert answer.headers["cache-control"] == "no-cache", name
            again = http.get(
                f"/docs/static/{name}", headers={"If-None-Match": answer.headers["etag"]}
            )
            assert again.status_code == 304, name
    assert "Apache License" in (ASSETS_DIR / "swagger-ui" / "LICENSE").read_text()
    assert (ASSETS_DIR / "swagger-ui" / "NOTICE").read_text().startswith("swagger-ui")
    assert "MIT License" in (ASSETS_DIR / "redoc" / "LICENSE").read_text()
