"""The whole stack on one machine: Temporal dev server, mail sink, notify, worker, intake.

`make run` uses it (`python -m services.devstack`); the end-to-end tests use `Stack` to run the
same processes on free ports.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from shared import names
from shared.settings import DEV_NOTIFY_TOKEN

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listens on port {port} after {timeout}s")


def wait_healthy(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=2)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.HTTPError as err:
            last = str(err)
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout}s: {last}")


@dataclass
class Stack:
    """The stack's processes, their ports and shared environment."""

    var: Path
    database_url: str
    temporal_port: int = 7233
    ui_port: int = 8233
    intake_port: int = 8000
    notify_port: int = 8001
    smtp_port: int = 1025
    temporal_db: str | None = None  # None: in-memory
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @classmethod
    def on_free_ports(cls, var: Path, database_url: str, **options: Any) -> "Stack":
        """A stack whose every port is a free one: for tests and benchmarks."""
        return cls(
            var=var,
            database_url=database_url,
            temporal_port=free_port(),
            ui_port=free_port(),
            intake_port=free_port(),
            notify_port=free_port(),
            smtp_port=free_port(),
            **options,
        )

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            TEMPORAL_ADDRESS=f"127.0.0.1:{self.temporal_port}",
            NOTIFY_URL=f"http://127.0.0.1:{self.notify_port}",
            INTAKE_PORT=str(self.intake_port),
            NOTIFY_PORT=str(self.notify_port),
            SMTP_PORT=str(self.smtp_port),
            PUBLIC_URL=f"http://127.0.0.1:{self.intake_port}",
        )
        env.setdefault("NOTIFY_TOKEN", DEV_NOTIFY_TOKEN)  # notify and the worker share it
        env.update(self.extra_env)
        return env

    @property
    def intake_url(self) -> str:
        return f"http://127.0.0.1:{self.intake_port}"

    @property
    def notify_url(self) -> str:
        return f"http://127.0.0.1:{self.notify_port}"

    def _spawn(self, name: str, args: list[str]) -> None:
        self.var.mkdir(parents=True, exist_ok=True)
        log = open(self.var / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.procs[name] = subprocess.Popen(
            args, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def _ticketflow(self, name: str, *args: str) -> None:
        self._spawn(name, [str(BIN / "ticketflow"), *args])

    def start_temporal(self) -> None:
        args = [
            str(BIN / "temporal"), "server", "start-dev",
            "--ip", "127.0.0.1",
            "--port", str(self.temporal_port),
            "--ui-port", str(self.ui_port),
            "--log-level", "warn",
        ]  # fmt: skip
        if self.temporal_db:
            args += ["--db-filename", self.temporal_db]
        else:
            args += ["--headless"]
        for attribute in names.KEYWORD_ATTRIBUTES:
            args += ["--search-attribute", f"{attribute}=Keyword"]
        for attribute in names.BOOL_ATTRIBUTES:
            args += ["--search-attribute", f"{attribute}=Bool"]
        for attribute in names.DATETIME_ATTRIBUTES:
            args += ["--search-attribute", f"{attribute}=Datetime"]
        self._spawn("temporal", args)
        wait_for_port(self.temporal_port)

    def migrate_and_load(self, config: Path | None) -> str:
        subprocess.run([str(BIN / "ticketflow"), "migrate"], env=self.env, check=True)
        if config is None:
            return ""
        done = subprocess.run(
            [str(BIN / "ticketflow"), "load-config", str(config)],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def start_services(self) -> None:
        self._ticketflow(
            "mail-sink", "mail-sink", "--port", str(self.smtp_port), "--dir", str(self.var / "mail")
        )
        wait_for_port(self.smtp_port)
        self._ticketflow("notify", "notify")
        self.start_worker()
        self._ticketflow("intake", "intake")
        wait_healthy(f"{self.notify_url}/healthz")
        wait_healthy(f"{self.intake_url}/healthz")

    def start_worker(self) -> None:
        self._ticketflow("worker", "worker")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def stop(self) -> None:
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for name, proc in list(self.procs.items()):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            del self.procs[name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the whole ticketflow stack locally.")
    parser.add_argument("--var", type=Path, default=Path("var"))
    parser.add_argument("--config", type=Path, default=Path("config/demo.yaml"))
    args = parser.parse_args(argv)
    var: Path = args.var.resolve()
    url = os.environ.get("DATABASE_URL", f"sqlite:///{var / 'ticketflow.db'}")
    stack = Stack(var=var, database_url=url, temporal_db=str(var / "temporal.db"))
    try:
        stack.start_temporal()
        tokens = stack.migrate_and_load(args.config)
        stack.start_services()
    except (OSError, TimeoutError, subprocess.CalledProcessError) as err:
        print(f"ticketflow: could not start the stack: {err} (logs in {var})", file=sys.stderr)
        stack.stop()
        return 1
    print(
        "\nticketflow is running\n"
        f"  API docs     {stack.intake_url}/docs\n"
        f"  Temporal UI  http://127.0.0.1:{stack.ui_port}\n"
        f"  notify       {stack.notify_url}/api/v1/notifications\n"
        f"  mail sink    {var / 'mail'} (every mail sent, as .eml)\n"
        f"  logs         {var}/*.log\n"
        f"  database     {url}\n"
        "\ndemo agents (handle token):\n"
        f"{tokens or '  (tokens set earlier: see config/demo.yaml)'}\n"
        "Ctrl-C stops everything.",
        flush=True,
    )
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while not (dead := stack.dead()):
            time.sleep(0.5)
        stopped = ", ".join(dead)
        print(f"ticketflow: {stopped} stopped unexpectedly (logs in {var})", file=sys.stderr)
    except KeyboardInterrupt:
        pass
    print("\nstopping...", flush=True)
    stack.stop()
    return 0


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
