"""Processes as /proc shows them, for tests that must prove every process they started stopped."""

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Proc:
    """One process: a pid plus its start time, so a reused pid is never taken for it."""

    pid: int
    started: int  # clock ticks after boot
    command: str


@dataclass(frozen=True)
class _Stat:
    state: str
    ppid: int
    session: int
    started: int


def _stat(pid: int) -> _Stat | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may hold spaces: count fields after its last ")".
    fields = text.rsplit(")", 1)[1].split()
    return _Stat(fields[0], ppid=int(fields[1]), session=int(fields[3]), started=int(fields[19]))


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


def _living() -> dict[int, _Stat]:
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) and stat.state != "Z":
            stats[int(entry.name)] = stat
    return stats


def family(root: int) -> set[Proc]:
    """`root`, its living descendants, and every living process of the session it leads."""
    living = _living()
    children: dict[int, list[int]] = {}
    for pid, stat in living.items():
        children.setdefault(stat.ppid, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid in living:
            found.add(pid)
        todo += children.get(pid, [])
    found |= {pid for pid, stat in living.items() if stat.session == root}
    return {Proc(pid, living[pid].started, _command(pid)) for pid in found}


def alive(proc: Proc) -> bool:
    stat = _stat(proc.pid)
    return stat is not None and stat.state != "Z" and stat.started == proc.started


def wait_gone(procs: Iterable[Proc], timeout: float) -> set[Proc]:
    """Wait until none of `procs` lives; return those still alive after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while (survivors := {proc for proc in procs if alive(proc)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    return survivors


def kill_all(procs: Iterable[Proc]) -> None:
    """SIGKILL whichever of `procs` still lives: cleanup after a test, pass or fail."""
    for proc in procs:
        if alive(proc):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
