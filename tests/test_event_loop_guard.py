"""The suite's guard against database work on an event loop's thread (tests/conftest.py):
a service that checks a pooled connection out there fails; one that hands the work to a
worker thread does not."""

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from shared.db.engine import make_engine, make_sessionmaker
from shared.db.loop_guard import EventLoopBlocked
from shared.db.threads import in_thread


def _select_one(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(text("SELECT 1")) or 0)


def service(sessions: sessionmaker[Session]) -> FastAPI:
    # Defined here, but the guard judges by who asks: the routes below stand for services/
    # code, so they call the database through a helper named as a service module would be.
    app = FastAPI()

    @app.get("/blocking")
    async def blocking() -> int:
        return _select_one(sessions)

    @app.get("/threaded")
    async def threaded() -> int:
        return await in_thread(_select_one, sessions)

    return app


async def test_a_service_s_database_work_on_the_event_loop_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tests.conftest as guard

    # The routes of this module count as a service's code, as services/ does.
    monkeypatch.setattr(guard, "TESTS", str(tmp_path / "no-tests-here"))
    monkeypatch.setattr(guard, "SERVICES", str(Path(__file__)))
    engine = make_engine(f"sqlite:///{tmp_path / 'guard.db'}")
    try:
        app = service(make_sessionmaker(engine))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/threaded")).json() == 1
            with pytest.raises(EventLoopBlocked):
                await client.get("/blocking")
    finally:
        engine.dispose()
