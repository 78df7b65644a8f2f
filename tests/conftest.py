"""Fixtures shared by every test layer."""

import sys
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

import pytest
from sqlalchemy import event
from sqlalchemy.pool import Pool

from shared.db.loop_guard import forbid_on_event_loop
from tests.databases import postgres_database, sqlite_database


@pytest.fixture(scope="session", autouse=True)
def no_database_work_on_an_event_loop() -> Iterator[None]:
    """A pooled connection checked out in this process on a thread that runs an event loop
    fails its test (shared.db.engine.EventLoopBlocked): such work stalls every request. Only a
    test's own code (its set-up, its checks) may read the database so; the services it drives
    (over ASGI, in their own tasks) may not. The e2e stacks set DATABASE_LOOP_GUARD."""
    listener = forbid_on_event_loop(Pool, unless=_asked_by_a_test)
    yield
    event.remove(Pool, "checkout", listener)


ROOT = Path(__file__).resolve().parents[1]
TESTS, SERVICES = str(ROOT / "tests"), str(ROOT / "services")


def _asked_by_a_test() -> bool:
    """Whether the nearest caller of ours (services/ or tests/; shared/ serves both) is a
    test's code rather than a service's."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if name.startswith(SERVICES):
            return False
        if name.startswith(TESTS):
            return True
        frame = frame.f_back
    return False


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database; every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        with sqlite_database(tmp_path) as url:
            yield url
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    with sqlite_database(tmp_path) as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_database() as url:
        yield url
