"""The real stack, as processes on free ports: dev server, mail sink, notify, worker, intake."""

import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from services.devstack import Stack
from tests.builders import TEST_ENCRYPTION_KEYS
from tests.databases import postgres_database, sqlite_database
from tests.processes import Proc, family, kill_all, wait_gone

ROOT = Path(__file__).resolve().parents[2]
JANE = {"Authorization": "Bearer dev-jane-token"}
JOHN = {"Authorization": "Bearer dev-john-token"}
VERA = {"Authorization": "Bearer dev-vera-token"}
T = TypeVar("T")


@contextmanager
def started_stack(kind: str, var: Path, extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    """The whole stack on free ports, on a fresh `kind` database; stopped on the way out.
    `extra_env` adds to (or overrides) the settings every process gets."""
    database = sqlite_database(var) if kind == "sqlite" else postgres_database()
    with database as url:
        stack = Stack.on_free_ports(
            var,
            url,
            extra_env={
                "ENVIRONMENT": "test",
                "SECRET_KEY": uuid.uuid4().hex,
                "NOTIFY_TOKEN": uuid.uuid4().hex,
                # Every payload the stack hands to Temporal is encrypted, as in production.
                "ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS,
                "TEMPORAL_TASK_QUEUE": f"e2e-{uuid.uuid4().hex[:8]}",
                "TEMPORAL_RPC_TIMEOUT_SECONDS": "5",
                # A killed worker's tickets move to the new one after 3 s, not 10.
                "WORKER_STICKY_TIMEOUT_SECONDS": "3",
                # A connection asked for on an event loop's thread fails its request (500).
                "DATABASE_LOOP_GUARD": "true",
                **(extra_env or {}),
            },
        )
        try:
            stack.start_temporal()
            stack.migrate_and_load(ROOT / "config" / "demo.yaml")
            loaded = subprocess.run(
                [
                    str(ROOT / ".venv/bin/ticketflow"),
                    "load-config",
                    str(ROOT / "tests/e2e/fast.yaml"),
                ],
                env=stack.env,
                capture_output=True,
                text=True,
            )
            assert loaded.returncode == 0, loaded.stderr
            stack.start_services()
            yield stack
        finally:
            stack.stop()


@pytest.fixture(scope="package", params=["sqlite", "postgresql"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """One stack per database for every module that neither needs its own settings nor leaves
    a process down (a module that kills one starts it again). Stopped, it leaves no process:
    each it started, with their children, is gone within 20 s."""
    started: set[Proc] = set()
    try:
        with started_stack(request.param, tmp_path_factory.mktemp(f"stack-{request.param}")) as s:
            yield s
            # The processes as they are now: a module may have restarted one.
            started = set().union(*(family(proc.pid) for proc in s.procs.values()))
            assert started and os.getpid() not in {proc.pid for proc in started}
    finally:
        survivors = wait_gone(started, timeout=20)
        kill_all(survivors)
        assert not survivors, f"still running after the stack stopped: {survivors}"


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.intake_url, timeout=30) as client:
        yield client


@pytest.fixture
def notify(stack: Stack) -> Iterator[httpx.Client]:
    token = {"Authorization": f"Bearer {stack.env['NOTIFY_TOKEN']}"}
    with httpx.Client(base_url=stack.notify_url, headers=token, timeout=30) as client:
        yield client


def eventually(probe: Callable[[], T | None], timeout: float = 20.0, what: str = "") -> T:
    """Poll until `probe` returns something truthy (projections and mail lag by design)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or probe}")
        time.sleep(0.2)


def open_ticket(
    api: httpx.Client, subject: str, topic: str = "online-banking", **extra: Any
) -> dict[str, Any]:
    body = {
        "requester": {"name": "Alice Customer", "email": "alice@example.com"},
        "subject": subject,
        "message": f"{subject}: please help",
        "help_topic": topic,
        **extra,
    }
    response = api.post("/api/v1/tickets", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


def new_ticket(subject: str) -> dict[str, str]:
    """The form fields of a new ticket, for a post that comes with files."""
    return {
        "requester": json.dumps({"name": "Alice Customer", "email": "alice@example.com"}),
        "subject": subject,
        "message": f"{subject}: see the attached file",
        "help_topic": "online-banking",
    }


def attachments_of(read: dict[str, Any]) -> list[dict[str, Any]]:
    """The files of a ticket as read, in the order of its thread."""
    return [file for entry in read["thread"] for file in entry["attachments"]]


def notifications(notify: httpx.Client, number: str) -> list[dict[str, Any]]:
    response = notify.get("/api/v1/notifications", params={"ticket": number})
    assert response.status_code == 200, response.text
    items = response.json()
    return list(items["items"] if isinstance(items, dict) else items)
