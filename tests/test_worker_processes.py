"""`ticketflow worker --processes N`: N workers on one task queue, which stop with their
supervisor however it stops. Real processes on a real Temporal dev server."""

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

from services import cli
from services.devstack import Stack
from services.workflows.worker import build_worker
from shared.settings import Settings
from tests.processes import Proc, alive, family, kill_all, wait_gone

ROOT = Path(__file__).resolve().parents[1]
STOP_WITHIN = 15.0


@pytest.fixture(scope="module")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A headless dev server on a free port; stopped, and proven stopped, afterwards."""
    var = tmp_path_factory.mktemp("workers")
    stack = Stack.on_free_ports(var, f"sqlite:///{var / 'ticketflow.db'}")
    try:
        stack.start_temporal()
        server = stack.procs["temporal"]
        yield stack
    finally:
        stack.stop()
    assert server.poll() is not None


def start_supervisor(stack: Stack, queue: str, processes: int) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in stack.env.items() if key != "WORKER_PROCESSES"}
    env.update(PYTHONPATH=str(ROOT), TEMPORAL_TASK_QUEUE=queue)
    command = [sys.executable, "-m", "services.cli", "worker", "--processes", str(processes)]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


async def pollers(stack: Stack, queue: str) -> set[str]:
    client = await stack.temporal_client()
    request = DescribeTaskQueueRequest(
        namespace="default",
        task_queue=TaskQueue(name=queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
    )
    described = await client.workflow_service.describe_task_queue(request)
    return {poller.identity for poller in described.pollers}


def wait_for_pollers(stack: Stack, queue: str, count: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(found := asyncio.run(pollers(stack, queue))) < count:
        assert time.monotonic() < deadline, f"pollers after {timeout}s: {found}"
        time.sleep(0.5)
    assert len(found) == count, found


def workers_of(supervisor: subprocess.Popen[bytes], count: int) -> set[Proc]:
    """The supervisor and its `count` workers, once they have all started.

    A child seen between fork and exec still shows the supervisor's command line, so this
    waits until `count` children run the single-process worker command."""
    deadline = time.monotonic() + 30
    while True:
        procs = family(supervisor.pid)
        workers = [p for p in procs if p.pid != supervisor.pid and "--processes 1" in p.command]
        if len(workers) >= count:
            return procs
        assert supervisor.poll() is None, "the supervisor exited"
        assert time.monotonic() < deadline, procs
        time.sleep(0.1)


def assert_each_serves_its_metrics(stack: Stack, count: int) -> None:
    """The i-th worker process serves ticketflow's metrics on WORKER_METRICS_PORT + i, and the
    Temporal SDK's on WORKER_SDK_METRICS_PORT + i."""
    assert stack.worker_metrics_port and stack.worker_sdk_metrics_port
    for i in range(count):
        ours = httpx.get(f"http://127.0.0.1:{stack.worker_metrics_port + i}/metrics", timeout=10)
        assert ours.status_code == 200 and "ticketflow_escalations" in ours.text
        sdk = httpx.get(f"http://127.0.0.1:{stack.worker_sdk_metrics_port + i}/metrics", timeout=10)
        assert sdk.status_code == 200 and "temporal_" in sdk.text


@pytest.mark.e2e
def test_two_processes_poll_one_queue_and_stop_on_sigterm(temporal: Stack) -> None:
    queue = f"workers-{uuid.uuid4().hex[:8]}"
    supervisor = start_supervisor(temporal, queue, 2)
    procs: set[Proc] = set()
    try:
        procs = workers_of(supervisor, 2)
        workers = [p for p in procs if p.pid != supervisor.pid]
        assert len(workers) == 2 and all("--processes 1" in p.command for p in workers), workers
        wait_for_pollers(temporal, queue, 2)
        assert_each_serves_its_metrics(temporal, 2)
        supervisor.send_signal(signal.SIGTERM)
        assert not wait_gone(procs, STOP_WITHIN)
        assert supervisor.wait(timeout=5) == 0
    finally:
        kill_all(procs | family(supervisor.pid))
        supervisor.kill()
        supervisor.wait(timeout=30)


@pytest.mark.e2e
def test_workers_die_with_a_sigkilled_supervisor(temporal: Stack) -> None:
    supervisor = start_supervisor(temporal, f"workers-{uuid.uuid4().hex[:8]}", 2)
    procs: set[Proc] = set()
    try:
        procs = workers_of(supervisor, 2)
        supervisor.kill()
        assert not wait_gone(procs, STOP_WITHIN), [p.command for p in procs if alive(p)]
    finally:
        kill_all(procs | family(supervisor.pid))
        supervisor.kill()
        supervisor.wait(timeout=30)


@pytest.mark.parametrize("processes", ["0", "-1", "two"])
def test_processes_must_be_a_positive_integer(
    processes: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["worker", "--processes", processes]) == 2
    assert "--processes" in capsys.readouterr().err
    monkeypatch.setenv("WORKER_PROCESSES", processes)
    assert cli.main(["worker"]) == 2
    assert f"{processes!r} is not a positive integer" in capsys.readouterr().err


async def test_the_sticky_timeout_is_a_setting(temporal: Stack, tmp_path: Path) -> None:
    """WORKER_STICKY_TIMEOUT_SECONDS reaches the worker; the SDK's 10 s is the default."""
    client = await temporal.temporal_client()
    url = f"sqlite:///{tmp_path / 'ticketflow.db'}"
    with ThreadPoolExecutor(max_workers=32) as executor:  # as run_worker builds it
        for given, expected in ((None, 10.0), (3.0, 3.0)):
            extra: dict[str, object] = {"temporal_task_queue": f"sticky-{uuid.uuid4().hex[:8]}"}
            if given is not None:
                extra["worker_sticky_timeout_seconds"] = given
            worker = build_worker(client, Settings(database_url=url, **extra), executor)
            timeout = worker.config()["sticky_queue_schedule_to_start_timeout"]
            assert timeout == timedelta(seconds=expected)
    with pytest.raises(ValidationError):
        Settings(worker_sticky_timeout_seconds=0)
