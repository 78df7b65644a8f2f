"""Processes of the local stack: ports (free, taken, and by whom), child processes that die
with their parent, and signals that start a clean stop once and never interrupt it.
"""

import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

import httpx

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
TCP_LISTEN = "0A"  # the state column of /proc/net/tcp


_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default


def free_port() -> int:
    """A port nothing listens on, outside the kernel's ephemeral range.

    A port from `bind(0)` is an ephemeral one: released, it can be handed again to the next
    `bind(0)` or outgoing connection of any process (the Temporal dev server takes several for
    its own services) before our process binds it. Ports below the ephemeral range are only
    ever taken by name, and a port is never handed out twice by one process."""
    low, _ = _ephemeral_range()
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        if listening_inodes(port):
            continue
        _handed_out.add(port)
        return port
    with socket.socket() as sock:  # a crowded machine: fall back to the kernel's choice
        sock.bind(("127.0.0.1", 0))
        fallback: int = sock.getsockname()[1]
        return fallback


def _exited(proc: "subprocess.Popen[bytes] | None", what: str) -> None:
    if proc is not None and proc.poll() is not None:
        raise RuntimeError(f"{what}: the process exited with code {proc.returncode}")


def wait_for_port(
    port: int, timeout: float = 30.0, proc: "subprocess.Popen[bytes] | None" = None
) -> None:
    """Wait until something listens on `port`; with `proc`, fail at once if it exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _exited(proc, f"port {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def wait_healthy(
    url: str, timeout: float = 60.0, proc: "subprocess.Popen[bytes] | None" = None
) -> None:
    """Wait until `url` answers 200; with `proc`, fail at once if it exited."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        _exited(proc, url)
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as err:
            last = str(err)
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout}s: {last}")


@cache
def _prctl() -> Callable[..., int]:
    # Looked up before fork: the child of a threaded parent should not dlopen or dlsym.
    prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    return prctl


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn`: the child gets SIGKILL when its parent dies, however the parent dies.

    Linux ties this to the thread that forks, so spawn from the main thread. Elsewhere: None.
    """
    if sys.platform != "linux":
        return None
    prctl, parent = _prctl(), os.getpid()

    def preexec() -> None:
        if prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def terminate(
    procs: Iterable[subprocess.Popen[bytes]], sig: int = signal.SIGTERM, grace: float = 10.0
) -> list[int]:
    """Send `sig` to every live process, SIGKILL those still alive after `grace` seconds, reap
    them all; return their exit codes (128 + n for a process killed by signal n)."""
    procs = list(procs)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(sig)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return [code if code >= 0 else 128 - code for code in (proc.returncode for proc in procs)]


class Stopping(BaseException):
    """A signal asked the stack to stop (a BaseException, like KeyboardInterrupt)."""


class StopSignals:
    """The first SIGINT, SIGTERM or SIGHUP raises `Stopping`; any later one is absorbed.

    Ctrl-C twice, or a group SIGTERM that GNU make forwards once more, must not cut the cleanup
    short. Handlers rather than SIG_IGN: a process started afterwards must not inherit them.

    Python runs a handler wherever the main thread is, and some places swallow what it raises:
    a signal that lands in a fork hook (`logging`'s, run by every `subprocess.Popen`) is only
    printed as "Exception ignored". So the signal is also remembered, and `check()` (called
    after each spawn by `raise_if_stopping`) raises it again until the cleanup has begun.
    """

    def __init__(self) -> None:
        global _active
        self.received: str | None = None
        self.absorbing = False
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._handle)
        _active = self

    def absorb(self) -> None:
        self.absorbing = True

    def check(self) -> None:
        if self.received is not None and not self.absorbing:
            raise Stopping(self.received)

    def _handle(self, signum: int, _frame: object) -> None:
        if self.received is None:
            self.received = signal.Signals(signum).name
            self.check()


_active: StopSignals | None = None


def raise_if_stopping() -> None:
    """Raise `Stopping` for a stop signal whose exception was swallowed where it struck."""
    if _active is not None:
        _active.check()


def listening_inodes(port: int) -> set[str]:
    """Inodes of the TCP sockets listening on `port`, from /proc/net/tcp and tcp6."""
    inodes = set()
    for table in (Path("/proc/net/tcp"), Path("/proc/net/tcp6")):
        try:
            rows = table.read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            columns = row.split()
            local, state, inode = columns[1], columns[3], columns[9]
            if state == TCP_LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def socket_owner(inodes: set[str]) -> str | None:
    """`pid N: command line` of a process holding one of these sockets, if /proc shows one."""
    wanted = {f"socket:[{inode}]" for inode in inodes}
    for fds in Path("/proc").glob("[0-9]*/fd"):
        try:
            links = [os.readlink(fd) for fd in fds.iterdir()]
            command = (fds.parent / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:  # gone, or another user's
            continue
        if wanted.intersection(links):
            return f"pid {fds.parent.name}: {command.decode(errors='replace').strip()[:120]}"
    return None


def port_taken(port: int) -> bool:
    """Whether a server could not bind 127.0.0.1:`port` (SO_REUSEADDR, as servers set it)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


def taken_ports(ports: dict[str, int]) -> list[str]:
    """One line per port that is taken, naming what holds it where /proc tells."""
    lines = []
    for name, port in ports.items():
        if port_taken(port):
            owner = (inodes := listening_inodes(port)) and socket_owner(inodes)
            lines.append(f"port {port} ({name}) is in use" + (f" by {owner}" if owner else ""))
    return lines
