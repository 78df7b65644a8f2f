"""Throw-away databases for tests: a SQLite file, or a fresh PostgreSQL database.

Both are copies of one database migrated once per test process (a PostgreSQL template, a
SQLite file): running every migration for every test was most of the database tests' time.
A PostgreSQL database, once a test is done with it, is emptied (its rows deleted, its
sequences restarted: a few milliseconds) and handed to the next test, instead of being dropped
and made again from the template (about 0.6 s).
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
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError, ProgrammingError

from shared.db.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get(
    "TICKETFLOW_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
)
TEMPLATE_PREFIX = "tf_template_"
COPY_PREFIX = "tf_test_"
# Emptied databases of this process, ready for the next test; dropped at its exit.
_POOL: list[str] = []


def _admin() -> Engine:
    return create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")


def _url_of(name: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def cut_off(conn: Connection, name: str) -> None:
    """End every other session connected to the database `name`."""
    conn.execute(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()"
        ),
        {"name": name},
    )


def _drop(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        cut_off(conn, name)
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
            copies = conn.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": f"{COPY_PREFIX}%"},
            ).all()
        for stale in [*names, *copies]:
            pid = stale.removeprefix(TEMPLATE_PREFIX).removeprefix(COPY_PREFIX).split("_")[0]
            if pid.isdigit() and not _alive(int(pid)):
                _drop(admin, stale)
        name = f"{TEMPLATE_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    upgrade(_url_of(name))
    atexit.register(lambda: _drop_with_new_engine(name))
    atexit.register(_drop_pool)
    return name


def _drop_pool() -> None:
    while _POOL:
        _drop_with_new_engine(_POOL.pop())


SCHEMA = text(
    "SELECT table_name || '.' || column_name || ':' || data_type FROM information_schema.columns "
    "WHERE table_schema = 'public' ORDER BY 1"
)


def _schema(conn: Connection) -> tuple[str, ...]:
    """Every column of every table, with its type; and the migration the database is at."""
    version = conn.scalars(text("SELECT version_num FROM alembic_version")).all()
    return (*conn.scalars(SCHEMA).all(), *version)


@cache
def _template_schema() -> tuple[str, ...]:
    engine = create_engine(_url_of(_postgres_template()))
    try:
        with engine.connect() as conn:
            return _schema(conn)
    finally:
        engine.dispose()


def _emptied(admin: Engine, name: str) -> bool:
    """Empty the database `name` for the next test: whatever still holds a connection to it
    is cut off, every row but the migration version deleted (triggers and foreign keys off
    meanwhile), every sequence restarted. False if that could not be done, or if its schema
    is no longer the template's."""
    with admin.connect() as conn:
        cut_off(conn, name)
    engine = create_engine(_url_of(name))
    try:
        with engine.begin() as conn:
            tables = conn.scalars(
                text(
                    "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            ).all()
            sequences = conn.scalars(
                text(
                    "SELECT quote_ident(sequencename) FROM pg_sequences WHERE schemaname = 'public'"
                )
            ).all()
            if _schema(conn) != _template_schema():
                return False  # a test changed it (dropped a table, say): not for reuse
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
            for sequence in sequences:
                conn.execute(text(f"ALTER SEQUENCE {sequence} RESTART"))
        return True
    except (OperationalError, ProgrammingError):
        return False
    finally:
        engine.dispose()


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
    """A migrated PostgreSQL database with no rows (new, or emptied after an earlier test)."""
    admin = _admin()
    try:
        if _POOL:
            name = _POOL.pop()
        else:
            name = f"{COPY_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:12]}"
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
        if _emptied(admin, name):
            _POOL.append(name)
        else:
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
