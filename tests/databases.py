"""Throw-away databases for tests: a SQLite file, or a fresh PostgreSQL database.

Both are copies of one database migrated once per test process (a PostgreSQL template, a
SQLite file): running every migration for every test was most of the database tests' time.
"""

import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from shared.db.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "TICKETFLOW_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
TEMPLATE_PREFIX = "tf_template_"


def _admin() -> Engine:
    return create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _url_of(name: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))


@cache
def _postgres_template() -> str:
    """A migrated database to copy, made once per process and dropped at its exit (and, if
    the process was killed, by the next one to make its own)."""
    admin = _admin()
    try:
        with admin.connect() as conn:
            names = conn.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": f"{TEMPLATE_PREFIX}%"},
            ).all()
        for stale in names:
            pid = stale.removeprefix(TEMPLATE_PREFIX).split("_")[0]
            if pid.isdigit() and not _alive(int(pid)):
                _drop(admin, stale)
        name = f"{TEMPLATE_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    upgrade(_url_of(name))
    atexit.register(lambda: _drop_with_new_engine(name))
    return name


def _drop_with_new_engine(name: str) -> None:
    admin = _admin()
    try:
        _drop(admin, name)
    finally:
        admin.dispose()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, migrated PostgreSQL database, dropped afterwards."""
    admin = _admin()
    name = f"tf_test_{uuid.uuid4().hex[:12]}"
    try:
        template = _postgres_template()
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    except OperationalError as err:
        admin.dispose()
        if os.environ.get("TICKETFLOW_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"PostgreSQL unreachable: {err}")
    try:
        yield _url_of(name)
    finally:
        _drop(admin, name)
        admin.dispose()


@cache
def _sqlite_template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="tf-sqlite-template-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "ticketflow.db"
    upgrade(f"sqlite:///{path}")
    return path


@contextmanager
def sqlite_database(directory: Path) -> Iterator[str]:
    path = directory / "ticketflow.db"
    shutil.copyfile(_sqlite_template(), path)
    yield f"sqlite:///{path}"
