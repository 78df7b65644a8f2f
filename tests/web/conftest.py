"""The portal in process, in front of the real intake API in process (ASGI, no network) on a
fresh SQLite database. Temporal is down: intake answers a ticket from its projection
(tests.builders.seed_ticket writes them), and a create or a command answers 503.

For the browser tests (*_in_browser.py): Debian's Chromium and the real stack, one of each per
module (a module needing other settings overrides `stack`). Being module-scoped, they keep
each module's tests together on one xdist worker (tests/conftest.py), and the modules apart.
And a page of each of the two demo agents, Jane and John, signed in to the console."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, expect, sync_playwright

from services.devstack import Stack
from shared.db.engine import make_engine, make_sessionmaker
from shared.reference.config_file import load_config
from shared.settings import Settings
from tests.databases import sqlite_database
from tests.e2e.conftest import started_stack
from tests.web.browsers import CHROMIUM, JANE_TOKEN, JOHN_TOKEN, WAIT_MS, agent_context
from tests.web.consoles import PORTAL, SECRET, Clients, console, portal_app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    with sqlite_database(tmp_path) as url:
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            load_config(session, ROOT / "config" / "demo.yaml")
        engine.dispose()
        yield url


@pytest.fixture
def settings(database: str) -> Settings:
    return Settings(
        database_url=database,
        environment="test",
        secret_key=SECRET,
        portal_url=PORTAL,
        portal_tickets_per_hour=3,
        portal_status_requests_per_hour=3,
    )


@pytest.fixture
def portal(settings: Settings) -> Iterator[TestClient]:
    with TestClient(
        portal_app(settings), base_url=PORTAL, raise_server_exceptions=False, follow_redirects=False
    ) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium. Its `expect`s wait up to 20 s, as its contexts' actions do
    (browsers.new_context): a live update or a workflow's answer can take longer than
    Playwright's 5 s on a machine loaded with stacks."""
    expect.set_options(timeout=WAIT_MS)
    try:
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=CHROMIUM)
            yield launched
            launched.close()
    finally:
        expect.set_options(timeout=5_000)  # Playwright's default, for the tests that follow


@pytest.fixture(scope="module")
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """The whole stack on SQLite with the demo configuration, for the module's tests alone."""
    name = request.module.__name__.rpartition(".")[2]
    with started_stack("sqlite", tmp_path_factory.mktemp(f"{name}-stack")) as started:
        yield started


@pytest.fixture
def jane(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A page of Jane's (an admin), signed in to the console in a browser of her own."""
    context = agent_context(browser, stack, JANE_TOKEN, width=1400)
    yield context.new_page()
    context.close()


@pytest.fixture
def john(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A page of John's (an agent on Jane's team), signed in to the console in a browser of
    his own."""
    context = agent_context(browser, stack, JOHN_TOKEN, width=1400)
    yield context.new_page()
    context.close()


@pytest.fixture
def clients(settings: Settings) -> Iterator[Clients]:
    with console(settings) as both:
        yield both


@pytest.fixture
def web(clients: Clients) -> TestClient:
    return clients.web


@pytest.fixture
def api(clients: Clients) -> TestClient:
    return clients.api
