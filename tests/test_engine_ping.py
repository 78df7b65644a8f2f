"""The pool pings only connections that sat idle, and a connection the server dropped never
outlives the first error it causes (real PostgreSQL: the backend is terminated)."""

import time
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from shared.db.engine import make_engine


def _pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    # The backend is gone once the server says so.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with admin.connect() as conn:
            alive = conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar_one()
        admin.dispose()
        if not alive:
            return
        time.sleep(0.05)
    raise AssertionError(f"backend {pid} still there")


def _count_pings(engine: Engine) -> list[int]:
    pings = [0]
    ping = engine.dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        pings[0] += 1
        return ping(dbapi_connection)

    engine.dialect.do_ping = counting  # type: ignore[method-assign]
    return pings


def test_a_connection_in_steady_use_is_not_pinged(postgres_url: str) -> None:
    engine = make_engine(postgres_url, ping_idle_after=60)
    pings = _count_pings(engine)
    pids = {_pid(engine) for _ in range(20)}
    assert len(pids) == 1  # the same pooled connection every time
    assert pings[0] == 0
    engine.dispose()


def test_an_idle_connection_dropped_by_the_server_is_replaced_unseen(postgres_url: str) -> None:
    engine = make_engine(postgres_url, ping_idle_after=0.05)
    pings = _count_pings(engine)
    first = _pid(engine)
    _terminate(postgres_url, first)
    time.sleep(0.1)
    second = _pid(engine)  # no error: the ping found the dead connection first
    assert second != first
    assert pings[0] >= 1
    engine.dispose()


def test_a_connection_dropped_while_in_use_fails_once_then_the_pool_recovers(
    postgres_url: str,
) -> None:
    engine = make_engine(postgres_url, ping_idle_after=60)
    first = _pid(engine)
    _terminate(postgres_url, first)
    with pytest.raises(OperationalError) as caught:
        _pid(engine)
    assert caught.value.connection_invalidated
    assert _pid(engine) != first
    engine.dispose()
