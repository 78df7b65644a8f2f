"""SQLite in a service: a slow write stops no read, writers take turns in the process, and
a writer that waits too long for its turn gets the pool's timeout (the services: 503)."""

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shared.db.engine import make_engine


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}", pool_timeout=1.0)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (0)"))
    return engine


def slow_write(engine: Engine, started: threading.Event, seconds: float) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE t SET n = n + 1"))
        started.set()
        time.sleep(seconds)


def test_a_slow_write_stops_no_read_and_the_next_writer_waits_its_turn(engine: Engine) -> None:
    started = threading.Event()
    writer = threading.Thread(target=slow_write, args=(engine, started, 0.6))
    writer.start()
    assert started.wait(5)
    began = time.monotonic()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalar() == 0  # the last commit's
    assert time.monotonic() - began < 0.3
    with engine.begin() as conn:  # waits for the first writer's commit, then writes
        conn.execute(text("UPDATE t SET n = n + 10"))
    assert time.monotonic() - began >= 0.4
    writer.join()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalar() == 11
    engine.dispose()


def test_a_writer_that_waits_past_the_timeout_is_refused(engine: Engine) -> None:
    started = threading.Event()
    writer = threading.Thread(target=slow_write, args=(engine, started, 2.0))
    writer.start()
    assert started.wait(5)
    with pytest.raises(PoolTimeout, match="no turn to write"), engine.begin() as conn:
        conn.execute(text("UPDATE t SET n = n + 10"))
    writer.join()
    with engine.begin() as conn:  # the lock was released: the next writer goes at once
        conn.execute(text("UPDATE t SET n = n + 100"))
        assert conn.execute(text("SELECT n FROM t")).scalar() == 101
    engine.dispose()
