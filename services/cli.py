"""The `ticketflow` command: run a service, migrate the database, load reference data.

Each service is imported only by its own subcommand, so `ticketflow migrate` needs neither
Temporal nor the web stack to be importable, and nothing is built at import time.
"""

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NoReturn

from pydantic import ValidationError
from sqlalchemy.orm import Session

from shared.domain.enums import Role
from shared.settings import Settings


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and an exception rather than exit(2) + usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see {self.prog} --help)")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        command: Callable[[argparse.Namespace, Settings], int] = args.command
        return command(args, Settings())
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    except KeyboardInterrupt:
        return 130
    except Exception as err:  # the command line shows one line, never a traceback
        print(f"ticketflow: {one_line(err)}", file=sys.stderr)
        return 2


def one_line(err: Exception) -> str:
    if isinstance(err, ValidationError):
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or type(err).__name__}: {e['msg']}"
            for e in err.errors()
        )
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__


def build_parser() -> Parser:
    parser = Parser(prog="ticketflow", description="ticketflow: a help desk on Temporal.")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    commands.add_parser("intake", help="run the HTTP API").set_defaults(command=intake)
    commands.add_parser("notify", help="run the notification service").set_defaults(command=notify)
    portal = commands.add_parser("web", help="run the requester portal (WEB_HOST:WEB_PORT)")
    portal.set_defaults(command=web)
    commands.add_parser(
        "codec", help="run the codec server of the Temporal UI and CLI (CODEC_HOST:CODEC_PORT)"
    ).set_defaults(command=codec)
    workers = commands.add_parser("worker", help="run the Temporal worker")
    workers.add_argument(
        "--processes",
        type=positive_int,
        # A string default goes through `type` too, so a bad WORKER_PROCESSES is a usage error.
        default=os.environ.get("WORKER_PROCESSES", "1"),
        metavar="N",
        help="worker processes on the same task queue (default: WORKER_PROCESSES, else 1)",
    )
    workers.set_defaults(command=worker)
    doctor = commands.add_parser(
        "doctor", help="list open tickets whose workflow is not running or is wedged (exit 1)"
    )
    doctor.add_argument(
        "--recover", action="store_true", help="start each again from its projection"
    )
    doctor.set_defaults(command=run_doctor)
    sink = commands.add_parser("mail-sink", help="run an SMTP sink writing .eml files")
    sink.add_argument("--host", default="127.0.0.1")
    sink.add_argument("--port", type=int, default=1025)
    sink.add_argument("--dir", type=Path, default=Path("var/mail"))
    sink.set_defaults(command=mail_sink)
    mail_in = commands.add_parser(
        "mail-in",
        help="receive mail: an SMTP listener (--smtp), else one message on standard input",
        description="With --smtp or --smtp-port, an SMTP listener for an MTA to relay to. "
        "Otherwise one message is read from standard input (Postfix pipe, procmail); exit "
        "status 0 accepted, 65 unreadable (EX_DATAERR), 75 try again later (EX_TEMPFAIL).",
    )
    mail_in.add_argument(
        "--smtp", action="store_true", help="listen on MAIL_IN_HOST:MAIL_IN_SMTP_PORT"
    )
    mail_in.add_argument("--smtp-port", type=int, default=None, metavar="PORT")
    mail_in.add_argument("--host", default=None, help="listen address (default: MAIL_IN_HOST)")
    mail_in.add_argument(
        "--sender", default=None, help="pipe: the envelope sender (Postfix ${sender})"
    )
    mail_in.add_argument(
        "--recipient",
        action="append",
        default=[],
        dest="recipients",
        metavar="ADDRESS",
        help="pipe: an envelope recipient (Postfix ${recipient}); routes to a help topic",
    )
    mail_in.set_defaults(command=receive_mail)
    commands.add_parser("migrate", help="upgrade the database schema").set_defaults(command=migrate)
    load = commands.add_parser("load-config", help="load reference data from a YAML file")
    load.add_argument("file", type=Path)
    load.set_defaults(command=load_config)
    agents = commands.add_parser("agents", help="manage agents")
    agent_commands = agents.add_subparsers(title="commands", required=True, metavar="COMMAND")
    add = agent_commands.add_parser("add", help="add an agent and print its token")
    add.add_argument("handle")
    add.add_argument("--name", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument("--team", action="append", default=[], dest="teams", metavar="TEAM")
    add.set_defaults(command=add_agent)
    password = agent_commands.add_parser(
        "set-password",
        help="set an agent's password for signing in (prompted twice, never an argument)",
    )
    password.add_argument("handle")
    password.set_defaults(command=set_password)
    keys = commands.add_parser("keys", help="manage the keys of encrypted Temporal payloads")
    key_commands = keys.add_subparsers(title="commands", required=True, metavar="COMMAND")
    key_commands.add_parser(
        "rotate",
        help="re-wrap every data key under the first of ENCRYPTION_KEYS (after adding a new "
        "first key; the older ones can then go)",
    ).set_defaults(command=rotate_keys)
    return parser


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    from shared.db.engine import make_engine, make_sessionmaker

    engine = make_engine(settings.database_url)
    try:
        with make_sessionmaker(engine)() as session:
            yield session
    finally:
        engine.dispose()


def intake(_: argparse.Namespace, settings: Settings) -> int:
    from services.intake.main import serve

    serve(settings)
    return 0


def notify(_: argparse.Namespace, settings: Settings) -> int:
    from services.notify.main import serve

    serve(settings)
    return 0


def web(_: argparse.Namespace, settings: Settings) -> int:
    from services.web.main import serve

    serve(settings)
    return 0


def codec(_: argparse.Namespace, settings: Settings) -> int:
    from services.codec.main import serve

    serve(settings)
    return 0


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def worker(args: argparse.Namespace, settings: Settings) -> int:
    if args.processes > 1:
        return supervise_workers(args.processes, settings)
    from services.workflows.worker import run_worker
    from shared.logs import configure_logging
    from shared.tracing.process import tracing

    configure_logging(settings)

    with tracing(settings, "ticketflow-worker"):
        asyncio.run(run_worker(settings))
    return 0


def supervise_workers(count: int, settings: Settings) -> int:
    """Run `count` single-process workers on one task queue, so every core runs workflows.

    SIGTERM or SIGINT is forwarded to them all; when one exits, the others are stopped too, so
    whatever supervises this process sees the failure. Nothing is restarted. Each worker is
    killed by the kernel if this process dies, even by SIGKILL. Each serves its metrics on
    ports of its own (services/workflows/telemetry.py).
    """
    from services.processes import die_with_parent, terminate
    from services.workflows.telemetry import worker_environment

    received: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: received.append(signum))
    command = [sys.executable, "-m", "services.cli", "worker", "--processes", "1"]
    procs = [
        subprocess.Popen(command, env=worker_environment(settings, i), preexec_fn=die_with_parent())
        for i in range(count)
    ]
    while not received and all(proc.poll() is None for proc in procs):
        time.sleep(0.2)
    codes = terminate(procs, received[0] if received else signal.SIGTERM)
    return next((code for code in codes if code != 0), 0)


def mail_sink(args: argparse.Namespace, _: Settings) -> int:
    from services.notify.mail_sink import start_mail_sink

    controller = start_mail_sink(args.host, args.port, args.dir)
    print(f"mail sink on {args.host}:{args.port}, writing to {args.dir}", flush=True)
    try:
        wait_until_interrupted()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return 0


def receive_mail(args: argparse.Namespace, settings: Settings) -> int:
    from shared.tracing.process import tracing

    if args.smtp or args.smtp_port is not None:
        import logging

        from services.mail_in.smtp import serve
        from shared.logs import configure_logging

        configure_logging(settings)
        logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command log

        host = args.host or settings.mail_in_host
        with tracing(settings, "ticketflow-mail-in"):
            asyncio.run(serve(settings, host, args.smtp_port or settings.mail_in_smtp_port))
        return 0
    from services.mail_in.pipe import EX_TEMPFAIL, deliver

    try:
        with tracing(settings, "ticketflow-mail-in"):
            return asyncio.run(
                deliver(
                    settings,
                    sys.stdin.buffer,
                    sys.stdout,
                    sender=args.sender,
                    recipients=tuple(args.recipients),
                )
            )
    except Exception as err:  # an MTA retries on EX_TEMPFAIL: a message is never lost
        print(f"ticketflow: {one_line(err)}", file=sys.stderr)
        return EX_TEMPFAIL


def wait_until_interrupted() -> None:
    """Block until Ctrl-C (KeyboardInterrupt)."""
    threading.Event().wait()


def migrate(_: argparse.Namespace, settings: Settings) -> int:
    from shared.db.migrate import upgrade

    upgrade(settings.database_url)
    print("database schema is up to date")
    return 0


def load_config(args: argparse.Namespace, settings: Settings) -> int:
    """Print `handle token` for every token set, so a dev stack can show them."""
    from shared.reference.config_file import load_config as load

    with _session(settings) as session:
        report = load(session, args.file)
    for handle, token in report.tokens:
        print(handle, token)
    print(
        f"loaded {args.file}: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged",
        file=sys.stderr,
    )
    return 0


def add_agent(args: argparse.Namespace, settings: Settings) -> int:
    """Print the new agent's token last: it is shown once, only its hash is stored."""
    from shared.db import audit
    from shared.domain.audit import AuditEntity
    from shared.domain.enums import ActorKind
    from shared.domain.models import Actor
    from shared.reference import service as reference
    from shared.reference.schemas import AgentCreate

    data = AgentCreate(
        handle=args.handle, name=args.name, email=args.email, role=args.role, teams=args.teams
    )
    with _session(settings) as session:
        agent, token = reference.create_agent(session=session, data=data)
        audit.record_change(
            session,
            actor=Actor(kind=ActorKind.SYSTEM, name="ticketflow agents add"),
            entity=AuditEntity.AGENT,
            entity_id=agent.handle,
            before=None,
            after=agent.model_dump(mode="json"),
        )
        session.commit()
    print(f"created {agent.role} {agent.handle} ({agent.name} <{agent.email}>); token:")
    print(token)
    return 0


def set_password(args: argparse.Namespace, settings: Settings) -> int:
    """Prompted (without echo) and typed twice: a password never appears in a command line,
    where `ps` and shell history would show it. The agent's sessions end."""
    from getpass import getpass

    from shared.db import audit, passwords
    from shared.db.tables import AgentRow
    from shared.domain.audit import SECRET_ROTATED, AuditAction, AuditEntity
    from shared.domain.enums import ActorKind
    from shared.domain.models import Actor

    with _session(settings) as session:  # closed while the prompts wait
        agent = session.get(AgentRow, args.handle)
        if agent is None:
            raise LookupError(f"no agent {args.handle!r}")
        who = f"{agent.handle} ({agent.email})"
    password = getpass(f"New password for {who}: ")
    if getpass("The same again: ") != password:
        raise ValueError("the two passwords differ; nothing was changed")
    problem = passwords.password_problem(password)
    if problem is not None:
        raise ValueError(f"the password {problem}; nothing was changed")
    with _session(settings) as session:
        agent = session.get(AgentRow, args.handle)
        if agent is None:
            raise LookupError(f"no agent {args.handle!r}")
        ended = passwords.set_password(session, agent, password)
        audit.record(
            session,
            actor=Actor(kind=ActorKind.SYSTEM, name="ticketflow agents set-password"),
            action=AuditAction.UPDATED,
            entity=AuditEntity.AGENT,
            entity_id=agent.handle,
            changes={"password": SECRET_ROTATED},
            summary=f"set the password of agent {agent.handle!r}",
        )
        session.commit()
    print(f"password set for {args.handle}; {ended} sign-in sessions ended")
    return 0


def rotate_keys(_: argparse.Namespace, settings: Settings) -> int:
    """Exit 1 while data keys remain that no key in ENCRYPTION_KEYS unwraps."""
    from shared.crypto.key_store import rotate
    from shared.db import two_factor

    ring = settings.key_ring
    if ring is None:
        raise ValueError("ENCRYPTION_KEYS is unset: there is nothing to rotate to")
    with _session(settings) as session:
        done = rotate(session, ring)
        sealed = two_factor.reseal(session, ring)
        session.commit()
    print(f"re-wrapped {done.rewrapped} data keys under key-encryption key {ring.active!r}")
    print(f"sealed {sealed} two-factor secrets under {ring.active!r}")
    for kek_id, count in sorted(done.unreachable.items()):
        print(
            f"{count} data keys are wrapped under {kek_id!r}, which ENCRYPTION_KEYS no longer "
            "holds: add it back (after the first) and rotate again",
            file=sys.stderr,
        )
    return 1 if done.unreachable else 0


def run_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from services.doctor import find_problems, recover
    from shared.db.engine import make_engine, make_sessionmaker
    from shared.temporal.client import connect

    async def go() -> int:
        client = await connect(settings)
        sessions = make_sessionmaker(make_engine(settings.database_url))
        problems = await find_problems(client, sessions)
        for problem in problems:
            print(f"ticket {problem.number}: {problem.what}")
            if args.recover:
                print(await recover(client, sessions, settings, problem.number))
        if not problems:
            print("every open ticket's workflow is running")
        return 1 if problems and not args.recover else 0

    return asyncio.run(go())


def entry() -> NoReturn:
    """The console command: `main`, then exit without the interpreter's finalisation, in
    which the threads of a Temporal client or worker have aborted the process (SIGABRT) after
    its work was done (the worker, `doctor`). Every command has finished and closed what it
    opened by then; logs and output are flushed here."""
    code = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    entry()
