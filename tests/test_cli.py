"""The `ticketflow` command: migrate, load-config, agents add and set-password, service wiring,
and errors as one line on stderr with exit code 2."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from services import cli
from shared.access import hash_token
from shared.db import directory, passwords
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import AgentRow
from shared.settings import Settings

DEMO = str(Path(__file__).resolve().parents[1] / "config" / "demo.yaml")


@pytest.fixture
def db(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], list[str]]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def agent_for(url: str, token: str) -> str | None:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        agent = directory.agent_by_token_hash(session, hash_token(token))
        handle = agent.handle if agent else None
    engine.dispose()
    return handle


def test_migrate_creates_the_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert run(capsys, "migrate")[0] == 0
    assert run(capsys, "migrate")[0] == 0  # at head already: a no-op
    engine = make_engine(url)
    assert {"agents", "help_topics", "tickets"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_load_config_prints_the_tokens_it_set(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "load-config", DEMO)
    assert code == 0
    assert out == ["jane dev-jane-token", "john dev-john-token", "vera dev-vera-token"]
    # One schedule, three agents, two departments, one team, three plans, four topics.
    assert err == [f"loaded {DEMO}: 14 created, 0 updated, 0 unchanged"]
    code, out, err = run(capsys, "load-config", DEMO)
    assert code == 0 and out == []
    assert err == [f"loaded {DEMO}: 0 created, 0 updated, 14 unchanged"]
    assert agent_for(db, "dev-jane-token") == "jane"


def test_load_config_rejects_an_unquoted_opening_time(
    db: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "hours.yaml"
    source.write_text(
        "schedules:\n"
        "  - {handle: office, name: Office, timezone: UTC,\n"
        "     hours: {0: [{start: '09:00', end: 17:00}]}}\n"
    )
    code, out, err = run(capsys, "load-config", str(source))
    assert code == 2 and out == [] and len(err) == 1
    assert err[0].startswith("ticketflow: schedules 'office': hours.0.0.end:"), err


def test_agents_add_prints_the_new_token_last(db: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "load-config", DEMO)[0] == 0
    code, out, _ = run(
        capsys,
        "agents",
        "add",
        "ada",
        "--name",
        "Ada Lovelace",
        "--email",
        "ada@example.com",
        "--role",
        "admin",
        "--team",
        "online-banking",
    )
    assert code == 0
    token = out[-1]
    assert token.startswith("tf_") and agent_for(db, token) == "ada"


def typed(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """Answer the password prompts with `answers`, in turn; the prompts shown."""
    prompts: list[str] = []
    replies = iter(answers)

    def getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return next(replies)

    monkeypatch.setattr("getpass.getpass", getpass)
    return prompts


def password_of(url: str, handle: str) -> str | None:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        agent = session.get(AgentRow, handle)
        stored = agent.password_hash if agent else None
    engine.dispose()
    return stored


def test_agents_set_password_prompts_twice_and_stores_a_hash(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "load-config", DEMO)[0] == 0
    prompts = typed(monkeypatch, "a long new password", "a long new password")
    code, out, err = run(capsys, "agents", "set-password", "jane")
    assert (code, out, err) == (0, ["password set for jane; 0 sign-in sessions ended"], [])
    assert len(prompts) == 2 and "jane" in prompts[0]
    stored = password_of(db, "jane")
    assert stored is not None and stored.startswith("$argon2id$")
    assert passwords.matches(stored, "a long new password")


@pytest.mark.parametrize(
    ("answers", "error"),
    [
        (("a long new password", "a long new passwort"), "the two passwords differ"),
        (("short", "short"), "the password must have at least 12 characters"),
        (("a long\tnew password", "a long\tnew password"), "control character U+0009"),
    ],
)
def test_agents_set_password_refuses_a_bad_password(
    db: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    answers: tuple[str, str],
    error: str,
) -> None:
    assert run(capsys, "load-config", DEMO)[0] == 0
    typed(monkeypatch, *answers)
    code, out, err = run(capsys, "agents", "set-password", "jane")
    assert code == 2 and out == [] and len(err) == 1
    assert err[0].startswith("ticketflow: ") and error in err[0], err
    assert password_of(db, "jane") is None


def test_agents_set_password_takes_no_password_argument_and_needs_an_agent(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = typed(monkeypatch)
    code, _, err = run(capsys, "agents", "set-password", "jane", "hunter2hunter2")
    assert code == 2 and "unrecognized arguments" in err[0]
    code, _, err = run(capsys, "agents", "set-password", "nobody")
    assert (code, err) == (2, ["ticketflow: no agent 'nobody'"])
    assert prompts == []


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["frob"],
        ["agents"],
        ["agents", "add", "ada"],
        ["agents", "add", "ada", "--name", "A", "--email", "a@x.io", "--role", "boss"],
        ["mail-sink", "--port", "many"],
        ["load-config"],
    ],
)
def test_bad_arguments_exit_2_with_one_line(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == []
    assert len(err) == 1 and err[0].startswith("ticketflow: "), err


@pytest.mark.parametrize(
    "argv",
    [
        ["load-config", "no/such/file.yaml"],
        ["agents", "add", "jane", "--name", "J", "--email", "j@example.com", "--role", "agent"],
        [
            "agents",
            "add",
            "ada",
            "--name",
            "A",
            "--email",
            "a@x.io",
            "--role",
            "agent",
            "--team",
            "nope",
        ],
        ["agents", "add", "Not Valid", "--name", "A", "--email", "a@x.io", "--role", "agent"],
    ],
)
def test_failures_exit_2_with_one_line_and_no_traceback(
    db: str, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "load-config", DEMO)[0] == 0
    code, _, err = run(capsys, *argv)
    assert code == 2 and len(err) == 1 and err[0].startswith("ticketflow: "), err


def test_unreachable_database_is_a_one_line_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:1/none")
    code, _, err = run(capsys, "migrate")
    assert code == 2 and len(err) == 1 and "Connection refused" in err[0]


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and any("load-config" in line for line in out)


def test_services_are_started_with_the_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import services.intake.main
    import services.notify.main
    import services.workflows.worker

    monkeypatch.setenv("INTAKE_PORT", "9123")
    started: list[tuple[str, Settings]] = []

    async def run_worker(settings: Settings) -> None:
        started.append(("worker", settings))

    monkeypatch.setattr(services.intake.main, "serve", lambda s: started.append(("intake", s)))
    monkeypatch.setattr(services.notify.main, "serve", lambda s: started.append(("notify", s)))
    monkeypatch.setattr(services.workflows.worker, "run_worker", run_worker)
    for command in ("intake", "notify", "worker"):
        assert run(capsys, command)[0] == 0
    assert [name for name, _ in started] == ["intake", "notify", "worker"]
    assert all(settings.intake_port == 9123 for _, settings in started)


def test_mail_sink_runs_until_interrupted_then_stops(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import services.notify.mail_sink

    calls: list[Any] = []

    class Controller:
        def stop(self) -> None:
            calls.append("stopped")

    def interrupted() -> None:
        raise KeyboardInterrupt

    def start(host: str, port: int, directory: Path) -> Controller:
        calls.append((host, port, directory))
        return Controller()

    monkeypatch.setattr(services.notify.mail_sink, "start_mail_sink", start)
    monkeypatch.setattr(cli, "wait_until_interrupted", interrupted)
    code, out, _ = run(capsys, "mail-sink", "--port", "2525", "--dir", str(tmp_path))
    assert code == 0 and calls == [("127.0.0.1", 2525, tmp_path), "stopped"]
    assert "2525" in out[0]
