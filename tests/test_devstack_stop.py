"""`make run` (python -m services.devstack) stops every process it started, however it is told
to stop, and refuses to start on a taken port. Real processes: the stack runs on free ports
in its own session, and /proc tells which processes are left."""

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from services.processes import free_port, port_taken
from tests.processes import Proc, family, kill_all, wait_gone

# One worker at a time: the portal of each devstack started here takes the default port 8002
# (free_ports() names no web port).
pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.xdist_group("devstack-port-8002")]

ROOT = Path(__file__).resolve().parents[1]
STOP_WITHIN = 15.0
WORKERS = 2
# temporal, mail sink, notify, worker supervisor and its workers, intake, mail-in, codec; and
# devstack
STACK_PROCESSES = 1 + 7 + WORKERS


@dataclass
class Launched:
    """A devstack started by a test, and every process of it the test has seen."""

    proc: subprocess.Popen[bytes]
    var: Path
    ports: dict[str, int]
    via_make: bool
    seen: set[Proc] = field(default_factory=set)

    def output(self) -> str:
        return (self.var / "stdout").read_text() + (self.var / "stderr").read_text()

    def look(self) -> set[Proc]:
        self.seen |= family(self.proc.pid)
        return self.seen

    def devstack_pid(self) -> int:
        """The python process: the session leader itself, or make's child."""
        return next(p.pid for p in self.look() if "services.devstack" in p.command.split())


Launch = Callable[..., Launched]


def devstack_command(var: Path, ports: dict[str, int]) -> list[str]:
    command = [sys.executable, "-m", "services.devstack", "--var", str(var), "--workers", "2"]
    command += ["--config", str(ROOT / "config" / "demo.yaml")]
    for name, port in ports.items():
        command += [f"--{name}-port", str(port)]
    return command


def free_ports() -> dict[str, int]:
    names = ("temporal", "ui", "intake", "notify", "web", "codec", "smtp", "mail-in")
    return {name: free_port() for name in names}


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    """Start devstacks, each in a new session; whatever happens, kill all that is left."""
    launched: list[Launched] = []

    def start(*, via_make: bool = False, ports: dict[str, int] | None = None) -> Launched:
        var = tmp_path / f"stack-{len(launched)}"
        var.mkdir()
        ports = ports or free_ports()
        command = devstack_command(var, ports)
        if via_make:  # `make run`, as a developer or a supervisor runs it
            (var / "Makefile").write_text(f"run:\n\t{shlex.join(command)}\n")
            command = ["make", "-s", "-f", str(var / "Makefile"), "run"]
        env = {key: value for key, value in os.environ.items() if key != "WORKER_PROCESSES"}
        env.update(
            PYTHONPATH=str(ROOT),  # the code under test, whichever checkout the venv points at
            DATABASE_URL=f"sqlite:///{var / 'ticketflow.db'}",
            TEMPORAL_TASK_QUEUE=f"stop-{uuid.uuid4().hex[:8]}",
        )
        with open(var / "stdout", "wb") as out, open(var / "stderr", "wb") as err:
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        launched.append(Launched(proc, var, ports, via_make))
        return launched[-1]

    try:
        yield start
    finally:
        for stack in launched:
            kill_all(stack.look())
            if stack.proc.poll() is None:
                stack.proc.kill()
            stack.proc.wait(timeout=30)


def wait_running(stack: Launched, timeout: float = 90.0) -> None:
    """Until the banner is printed and all the stack's processes are up."""
    deadline = time.monotonic() + timeout
    want = STACK_PROCESSES + (1 if stack.via_make else 0)
    while "ticketflow is running" not in stack.output() or len(stack.look()) < want:
        assert stack.proc.poll() is None, f"devstack exited: {stack.output()}"
        assert time.monotonic() < deadline, f"not running after {timeout}s: {stack.output()}"
        time.sleep(0.2)


def wait_for_process(stack: Launched, word: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not any(word in proc.command.split() for proc in stack.look()):
        assert stack.proc.poll() is None, f"devstack exited: {stack.output()}"
        assert time.monotonic() < deadline, f"no {word} process after {timeout}s"
        time.sleep(0.1)


def assert_all_stopped(stack: Launched) -> float:
    """Every process the stack had is gone within STOP_WITHIN seconds, and its ports are free."""
    started = time.monotonic()
    survivors = wait_gone(stack.look(), STOP_WITHIN)
    took = time.monotonic() - started
    assert not survivors, "\n".join(f"{p.pid} {p.command}" for p in survivors)
    stack.proc.wait(timeout=5)
    taken = [port for port in stack.ports.values() if port_taken(port)]
    assert not taken, f"ports still taken: {taken}"
    return took


def test_sigterm_to_the_process_group_of_make_run_stops_everything(launch: Launch) -> None:
    stack = launch(via_make=True)
    wait_running(stack)
    os.killpg(stack.proc.pid, signal.SIGTERM)  # make forwards it too: python gets it twice
    assert_all_stopped(stack)
    assert "SIGTERM: stopping..." in stack.output()


def test_ctrl_c_twice_stops_everything(launch: Launch) -> None:
    stack = launch(via_make=True)
    wait_running(stack)
    for _ in range(2):  # a terminal signals the whole foreground process group
        os.killpg(stack.proc.pid, signal.SIGINT)
        time.sleep(0.1)
    assert_all_stopped(stack)
    assert "SIGINT: stopping..." in stack.output()
    assert "Traceback" not in stack.output()


def test_sigterm_to_its_pid_stops_everything_and_a_second_run_is_refused(
    launch: Launch,
) -> None:
    stack = launch()
    wait_running(stack)
    second = launch(ports=stack.ports)
    assert second.proc.wait(timeout=30) != 0
    refusal = second.output()
    assert "ticketflow is running" not in refusal
    assert not (second.var / "temporal.log").exists()  # it started nothing
    temporal = next(p.pid for p in stack.look() if "temporal" in Path(p.command.split()[0]).name)
    assert f"port {stack.ports['temporal']} (Temporal) is in use by pid {temporal}" in refusal
    for port in stack.ports.values():
        assert f"port {port} " in refusal
    os.kill(stack.proc.pid, signal.SIGTERM)
    assert_all_stopped(stack)
    assert stack.proc.returncode == 0


def test_sigkill_of_devstack_takes_every_child_with_it(launch: Launch) -> None:
    stack = launch()
    wait_running(stack)
    os.kill(stack.proc.pid, signal.SIGKILL)
    assert_all_stopped(stack)


def test_sigterm_during_start_up_stops_what_was_started(launch: Launch) -> None:
    stack = launch()
    wait_for_process(stack, "notify")  # Temporal and the mail sink are up, intake is not
    os.kill(stack.proc.pid, signal.SIGTERM)
    assert_all_stopped(stack)
    assert "ticketflow is running" not in stack.output()


def test_a_taken_port_is_named_and_nothing_starts(launch: Launch) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        ports = {**free_ports(), "intake": holder.getsockname()[1]}
        stack = launch(ports=ports)
        code = stack.proc.wait(timeout=30)
    assert code == 1
    assert f"port {ports['intake']} (intake) is in use by pid {os.getpid()}" in stack.output()
    assert "ticketflow is running" not in stack.output()
    assert not (stack.var / "temporal.log").exists()
    assert_all_stopped(stack)
