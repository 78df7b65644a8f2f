"""Ports for the stacks that tests and benchmarks start: never one the kernel may hand to
another process in the meantime, and a wait that fails at once when its server died."""

import subprocess
import sys

import pytest

from services.processes import _ephemeral_range, free_port, wait_for_port, wait_healthy


def test_free_ports_are_distinct_and_outside_the_ephemeral_range() -> None:
    low, high = _ephemeral_range()
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    assert all(1024 <= port < low or port > high for port in ports)


def test_a_wait_on_a_process_that_exited_fails_at_once_with_its_code() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    proc.wait(timeout=10)
    port = free_port()
    with pytest.raises(RuntimeError, match="exited with code 3"):
        wait_healthy(f"http://127.0.0.1:{port}/healthz", timeout=30, proc=proc)
    with pytest.raises(RuntimeError, match="exited with code 3"):
        wait_for_port(port, timeout=30, proc=proc)


STOP_IN_A_FORK_HOOK = """
import os, signal, subprocess, sys
from services.processes import StopSignals, Stopping, die_with_parent, raise_if_stopping
signals = StopSignals()
# As logging's fork hook did under `make run`: the signal lands inside a fork hook, where
# Python prints what the handler raised ("Exception ignored") and carries on.
os.register_at_fork(after_in_parent=lambda: os.kill(os.getpid(), signal.SIGTERM))
# With a preexec_fn, as the stack spawns, Popen forks (and runs the fork hooks).
subprocess.run([sys.executable, "-c", "pass"], check=True, preexec_fn=die_with_parent())
print("carried on after", signals.received, flush=True)
try:
    raise_if_stopping()
except Stopping as stop:
    print("raised", stop, flush=True)
signals.absorb()
raise_if_stopping()
print("absorbed once the cleanup began", flush=True)
"""


def test_a_stop_signal_swallowed_where_it_struck_is_raised_again() -> None:
    done = subprocess.run(
        [sys.executable, "-c", STOP_IN_A_FORK_HOOK], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Exception ignored" in done.stderr  # the first raise was swallowed
    assert done.stdout.splitlines() == [
        "carried on after SIGTERM",
        "raised SIGTERM",
        "absorbed once the cleanup began",
    ]
