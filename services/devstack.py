"""The whole stack on one machine: Temporal dev server, mail sink, notify, worker, intake,
mail-in, the requester portal (web).

`make run` uses it (`python -m services.devstack`); the end-to-end tests use `Stack` to run the
same processes on free ports.

Every process it starts is killed by the kernel if the process that started it dies, even by
SIGKILL. The services stay in its process group, so a supervisor's group signal or Ctrl-C reaches
them at once; Temporal gets a group of its own and is stopped last, because a worker told to stop
while it starts up still asks the server, and waits for it, before it can exit.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from services.processes import (
    Stopping,
    StopSignals,
    die_with_parent,
    free_port,
    raise_if_stopping,
    taken_ports,
    terminate,
    wait_for_port,
    wait_healthy,
)
from shared.crypto.key_ring import new_entry
from shared.settings import DEV_NOTIFY_TOKEN
from shared.temporal import names

if TYPE_CHECKING:
    from temporalio.client import Client

BIN = Path(sys.executable).parent


@dataclass
class Stack:
    """The stack's processes, their ports and shared environment."""

    var: Path
    database_url: str
    temporal_port: int = 7233
    ui_port: int = 8233
    intake_port: int = 8000
    notify_port: int = 8001
    web_port: int = 8002
    codec_port: int | None = None  # None: no codec server (the Temporal UI shows ciphertext)
    smtp_port: int = 1025
    mail_in_port: int = 2525
    temporal_db: str | None = None  # None: in-memory, and no UI
    worker_processes: int | None = None  # None: `ticketflow worker` decides (WORKER_PROCESSES)
    # The first worker's metrics ports, ticketflow's and the Temporal SDK's (None: not served);
    # the i-th worker process adds i (services/workflows/telemetry.py).
    worker_metrics_port: int | None = None
    worker_sdk_metrics_port: int | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @classmethod
    def on_free_ports(cls, var: Path, database_url: str, **options: Any) -> "Stack":
        """A stack whose every port is a free one: for tests and benchmarks."""
        if options.get("worker_processes") in (None, 1):  # N workers would need N in a row
            options.setdefault("worker_metrics_port", free_port())
            options.setdefault("worker_sdk_metrics_port", free_port())
        return cls(
            var=var,
            database_url=database_url,
            temporal_port=free_port(),
            ui_port=free_port(),
            intake_port=free_port(),
            notify_port=free_port(),
            web_port=free_port(),
            smtp_port=free_port(),
            mail_in_port=free_port(),
            **options,
        )

    @property
    def ports(self) -> dict[str, int]:
        ports = {
            "Temporal": self.temporal_port,
            "intake": self.intake_port,
            "notify": self.notify_port,
            "portal": self.web_port,
            "mail sink": self.smtp_port,
            "mail-in": self.mail_in_port,
        }
        if self.temporal_db:
            ports["Temporal UI"] = self.ui_port
        if self.codec_port is not None:
            ports["codec"] = self.codec_port
        for name, port in self.worker_metrics_ports.items():
            ports[f"{name} metrics"] = port
        return ports

    @property
    def worker_metrics_ports(self) -> dict[str, int]:
        """Where each worker process serves its metrics: `worker 0`, and `worker 0 SDK`."""
        ports = {}
        for i in range(self.worker_processes or 1):
            if self.worker_metrics_port is not None:
                ports[f"worker {i}"] = self.worker_metrics_port + i
            if self.worker_sdk_metrics_port is not None:
                ports[f"worker {i} SDK"] = self.worker_sdk_metrics_port + i
        return ports

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            TEMPORAL_ADDRESS=f"127.0.0.1:{self.temporal_port}",
            INTAKE_PORT=str(self.intake_port),
            NOTIFY_PORT=str(self.notify_port),
            WEB_PORT=str(self.web_port),
            PORTAL_URL=self.web_url,
            SMTP_PORT=str(self.smtp_port),
            MAIL_IN_SMTP_PORT=str(self.mail_in_port),
            PUBLIC_URL=f"http://127.0.0.1:{self.intake_port}",
            TEMPORAL_UI_URL=f"http://127.0.0.1:{self.ui_port}",
        )
        env.setdefault("NOTIFY_TOKEN", DEV_NOTIFY_TOKEN)  # notify and the worker share it
        if self.codec_port is not None:
            env["CODEC_PORT"] = str(self.codec_port)
            # The UI's page calls the codec from whichever of its names was typed.
            ui = (f"http://{host}:{self.ui_port}" for host in ("127.0.0.1", "localhost"))
            env["CODEC_CORS_ORIGINS"] = ",".join(ui)
        if self.worker_metrics_port is not None:
            env["WORKER_METRICS_PORT"] = str(self.worker_metrics_port)
        if self.worker_sdk_metrics_port is not None:
            env["WORKER_SDK_METRICS_PORT"] = str(self.worker_sdk_metrics_port)
        env.setdefault("BLOB_STORE_DIR", str(self.var / "blobs"))  # attachments' contents
        env.update(self.extra_env)
        return env

    @property
    def intake_url(self) -> str:
        return f"http://127.0.0.1:{self.intake_port}"

    @property
    def notify_url(self) -> str:
        return f"http://127.0.0.1:{self.notify_port}"

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def codec_url(self) -> str:
        return f"http://127.0.0.1:{self.codec_port}"

    async def temporal_client(self) -> "Client":
        """A client of the stack's Temporal as its services connect: their data converter,
        with their ENCRYPTION_KEYS and database."""
        from pydantic import SecretStr

        from shared.settings import Settings
        from shared.temporal.client import connect

        keys = self.env.get("ENCRYPTION_KEYS")
        settings = Settings(
            temporal_address=f"127.0.0.1:{self.temporal_port}",
            database_url=self.database_url,
            encryption_keys=SecretStr(keys) if keys else None,
        )
        return await connect(settings)

    def _spawn(self, name: str, args: list[str], own_group: bool = False) -> None:
        self.var.mkdir(parents=True, exist_ok=True)
        with open(self.var / f"{name}.log", "ab") as log:
            self.procs[name] = subprocess.Popen(
                args,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent(),
                process_group=0 if own_group else None,
            )
        raise_if_stopping()  # a stop signal during the fork is swallowed there

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
            if self.codec_port is not None:  # the UI shows tickets in clear through it
                args += ["--ui-codec-endpoint", self.codec_url]
        else:
            args += ["--headless"]
        for attribute in names.KEYWORD_ATTRIBUTES:
            args += ["--search-attribute", f"{attribute}=Keyword"]
        for attribute in names.BOOL_ATTRIBUTES:
            args += ["--search-attribute", f"{attribute}=Bool"]
        for attribute in names.DATETIME_ATTRIBUTES:
            args += ["--search-attribute", f"{attribute}=Datetime"]
        for attribute in names.KEYWORD_LIST_ATTRIBUTES:
            args += ["--search-attribute", f"{attribute}=KeywordList"]
        self._spawn("temporal", args, own_group=True)
        wait_for_port(self.temporal_port, proc=self.procs["temporal"])

    def migrate_and_load(self, config: Path | None) -> str:
        subprocess.run([str(BIN / "ticketflow"), "migrate"], env=self.env, check=True)
        raise_if_stopping()
        if config is None:
            return ""
        done = subprocess.run(
            [str(BIN / "ticketflow"), "load-config", str(config)],
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        )
        raise_if_stopping()
        return done.stdout

    def start_services(self) -> None:
        self._ticketflow(
            "mail-sink", "mail-sink", "--port", str(self.smtp_port), "--dir", str(self.var / "mail")
        )
        wait_for_port(self.smtp_port, proc=self.procs["mail-sink"])
        self.start_notify()
        self.start_worker()
        self._ticketflow("intake", "intake")
        self._ticketflow("web", "web")
        self._ticketflow("mail-in", "mail-in", "--smtp-port", str(self.mail_in_port))
        wait_healthy(f"{self.notify_url}/healthz", proc=self.procs["notify"])
        wait_healthy(f"{self.intake_url}/healthz", proc=self.procs["intake"])
        wait_healthy(f"{self.web_url}/healthz", proc=self.procs["web"])
        wait_for_port(self.mail_in_port, proc=self.procs["mail-in"])
        if self.codec_port is not None:
            self.start_codec()

    def start_codec(self) -> None:
        self._ticketflow("codec", "codec")
        wait_healthy(f"{self.codec_url}/healthz", proc=self.procs["codec"])

    def start_notify(self) -> None:
        self._ticketflow("notify", "notify")

    def start_worker(self) -> None:
        processes = (
            [] if self.worker_processes is None else ["--processes", f"{self.worker_processes}"]
        )
        self._ticketflow("worker", "worker", *processes)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def dead(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def stop(self) -> None:
        """Stop the services, then Temporal: each is sent SIGTERM, then SIGKILL if still up after
        a grace period; 8 s + 5 s keeps within the 15 s a supervisor waits."""
        services = [proc for name, proc in self.procs.items() if name != "temporal"]
        terminate(reversed(services), grace=8.0)
        if "temporal" in self.procs:
            terminate([self.procs["temporal"]], grace=5.0)
        self.procs.clear()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Run the whole ticketflow stack locally.")
    parser.add_argument("--var", type=Path, default=Path("var"))
    parser.add_argument("--config", type=Path, default=Path("config/demo.yaml"))
    ports = (
        ("temporal", 7233),
        ("ui", 8233),
        ("intake", 8000),
        ("notify", 8001),
        ("web", 8002),
        ("codec", 8003),
    )
    for name, default in ports:
        parser.add_argument(f"--{name}-port", type=int, default=default, metavar="PORT")
    parser.add_argument("--smtp-port", type=int, default=1025, metavar="PORT")
    for name, default, what in (("", 9400, "ticketflow's"), ("sdk-", 9500, "the Temporal SDK's")):
        parser.add_argument(
            f"--worker-{name}metrics-port",
            type=int,
            default=default,
            metavar="PORT",
            help=f"the first worker process's port for {what} metrics (the next one's is +1)",
        )
    parser.add_argument(
        "--mail-in-port",
        type=int,
        default=os.environ.get("MAIL_IN_SMTP_PORT", "2525"),
        metavar="PORT",
        help="the mail-in SMTP listener (default: MAIL_IN_SMTP_PORT, else 2525)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="worker processes (default: WORKER_PROCESSES if set, else one per CPU)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    var: Path = args.var.resolve()
    url = os.environ.get("DATABASE_URL", f"sqlite:///{var / 'ticketflow.db'}")
    stack = Stack(
        var=var,
        database_url=url,
        temporal_port=args.temporal_port,
        ui_port=args.ui_port,
        intake_port=args.intake_port,
        notify_port=args.notify_port,
        web_port=args.web_port,
        codec_port=args.codec_port,
        smtp_port=args.smtp_port,
        mail_in_port=args.mail_in_port,
        temporal_db=str(var / "temporal.db"),
        worker_processes=args.workers or _default_workers(),
        worker_metrics_port=args.worker_metrics_port,
        worker_sdk_metrics_port=args.worker_sdk_metrics_port,
        extra_env={} if os.environ.get("ENCRYPTION_KEYS") else {"ENCRYPTION_KEYS": dev_keys(var)},
    )
    # Checked before anything starts: a second `make run` must fail here, not in a log file.
    if taken := taken_ports(stack.ports):
        for line in taken:
            print(f"ticketflow: {line}", file=sys.stderr)
        print("ticketflow: nothing started (see --help to choose other ports)", file=sys.stderr)
        return 1
    signals = StopSignals()
    try:
        return run(stack, args.config)
    except Stopping as stop:
        print(f"\n{stop}: stopping...", flush=True)
        return 0
    finally:
        signals.absorb()
        stack.stop()


def dev_keys(var: Path) -> str:
    """The dev stack's ENCRYPTION_KEYS, made once and kept in `var` (owner-only): its
    Temporal history stays readable across runs, by its own key."""
    path = var / "encryption-keys"
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as file:
            file.write(new_entry("dev-1") + "\n")
    return path.read_text().strip()


def _worker_metrics(stack: Stack) -> str:
    """Which ports of 127.0.0.1 serve the worker processes' /metrics."""
    last = (stack.worker_processes or 1) - 1
    spans = [
        f"{what} on :{first}" + (f"-{first + last}" if last else "")
        for what, first in (
            ("ticketflow's", stack.worker_metrics_port),
            ("the Temporal SDK's", stack.worker_sdk_metrics_port),
        )
        if first is not None
    ]
    return ", ".join(spans) or "none (no metrics ports)"


def _default_workers() -> int | None:
    return None if "WORKER_PROCESSES" in os.environ else os.cpu_count() or 1


def run(stack: Stack, config: Path) -> int:
    """Start the stack, print how to use it, and wait until one of its processes exits."""
    try:
        stack.start_temporal()
        tokens = stack.migrate_and_load(config)
        stack.start_services()
    except (OSError, TimeoutError, subprocess.CalledProcessError) as err:
        print(
            f"ticketflow: could not start the stack: {err} (logs in {stack.var})", file=sys.stderr
        )
        return 1
    print(
        "\nticketflow is running\n"
        f"  Portal       {stack.web_url} (agents: {stack.web_url}/agent)\n"
        f"  API docs     {stack.intake_url}/docs\n"
        f"  Temporal UI  http://127.0.0.1:{stack.ui_port}\n"
        f"  codec        {stack.codec_url} (the UI's codec server: it shows tickets in clear)\n"
        f"  notify       {stack.notify_url}/api/v1/notifications\n"
        f"  mail sink    {stack.var / 'mail'} (every mail sent, as .eml)\n"
        f"  mail in      smtp://127.0.0.1:{stack.mail_in_port} (mail to any address there opens "
        "a ticket;\n               a reply to a notification joins its ticket)\n"
        f"  metrics      {stack.intake_url}/metrics (intake), :{stack.notify_port} (notify), "
        f":{stack.web_port} (portal);\n"
        f"               workers: {_worker_metrics(stack)}\n"
        f"  logs         {stack.var}/*.log\n"
        f"  database     {stack.database_url}\n"
        "\ndemo agents (handle token):\n"
        f"{tokens or '  (tokens set earlier: see config/demo.yaml)'}\n"
        "Ctrl-C stops everything.",
        flush=True,
    )
    while not (dead := stack.dead()):
        raise_if_stopping()
        time.sleep(0.5)
    stopped = ", ".join(dead)
    print(f"ticketflow: {stopped} stopped unexpectedly (logs in {stack.var})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
