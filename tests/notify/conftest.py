"""Fixtures of the notify tests: a migrated database (SQLite and PostgreSQL), a real SMTP
sink writing .eml files, and the app served by a real uvicorn on a free port.

A real server rather than starlette's TestClient: with this starlette, TestClient on httpx
raises a deprecation warning (it wants httpx2), and warnings are errors here.
"""

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from services.notify.mail_sink import start_mail_sink
from services.notify.main import build_server
from services.processes import free_port
from shared.settings import Settings
from tests.databases import postgres_database, sqlite_database

# Not the dev default: proves the app uses the configured token.
TOKEN = "test-notify-token-4f2a9c81d7e3"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """One fresh, migrated PostgreSQL database for the session; skipped (or failed, with
    TICKETFLOW_REQUIRE_POSTGRES=1) when PostgreSQL is unreachable."""
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def notify_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database with no notifications: a SQLite file per test, or the session's
    PostgreSQL database emptied before the test."""
    if request.param == "sqlite":
        with sqlite_database(tmp_path) as sqlite_url:
            yield sqlite_url
        return
    postgres: str = request.getfixturevalue("postgres_url")
    engine = create_engine(postgres)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM notifications"))
    engine.dispose()
    yield postgres


class MailSink:
    """The real aiosmtpd sink on a free port; can be started late to play an SMTP outage."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self._controller: Any = None

    def start(self) -> None:
        self._controller = start_mail_sink("127.0.0.1", self.port, self.directory)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def mails(self) -> list[Path]:
        return sorted(self.directory.glob("*.eml")) if self.directory.exists() else []


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    mail_sink = MailSink(tmp_path / "mail")
    mail_sink.start()
    yield mail_sink
    mail_sink.stop()


@pytest.fixture
def settings(notify_db_url: str, sink: MailSink) -> Settings:
    return Settings(
        environment="test",
        database_url=notify_db_url,
        smtp_host="127.0.0.1",
        smtp_port=sink.port,
        mail_from="helpdesk@ticketflow.test",
        notify_token=TOKEN,
    )


@contextmanager
def running_server(settings: Settings) -> Iterator[str]:
    """The notify app under a real uvicorn in a thread; yields its base URL."""
    port = free_port()
    server = build_server(settings.model_copy(update={"notify_port": port}))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("notify server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def base_url(settings: Settings) -> Iterator[str]:
    with running_server(settings) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    """A caller holding the service token, as the worker is."""
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=30) as http:
        yield http


@pytest.fixture
def anonymous(base_url: str) -> Iterator[httpx.Client]:
    """A caller without the service token."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        yield http
