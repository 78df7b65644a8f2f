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
