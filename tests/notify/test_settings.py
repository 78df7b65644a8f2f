"""NOTIFY_TOKEN: a dev default outside production; production refuses a weak one."""

import pytest
from pydantic import ValidationError

from services import cli
from shared.settings import DEV_NOTIFY_TOKEN, Settings
from tests.builders import TEST_ENCRYPTION_KEYS

STRONG_SECRET = "s" * 32


@pytest.mark.parametrize("token", [DEV_NOTIFY_TOKEN, "", "short", "x" * 15, " " * 20], ids=repr)
def test_production_refuses_a_default_empty_or_short_token(token: str) -> None:
    with pytest.raises(ValidationError, match="NOTIFY_TOKEN"):
        Settings(environment="production", secret_key=STRONG_SECRET, notify_token=token)


def test_production_refuses_to_start_without_a_token_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    monkeypatch.delenv("NOTIFY_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="NOTIFY_TOKEN must be set in production"):
        Settings()


def test_production_accepts_a_token_of_16_characters_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("NOTIFY_TOKEN", "t" * 16)
    monkeypatch.setenv("ENCRYPTION_KEYS", TEST_ENCRYPTION_KEYS)
    assert Settings().notify_token == "t" * 16


@pytest.mark.parametrize("environment", ["development", "test"])
def test_development_and_test_default_to_the_dev_token(
    monkeypatch: pytest.MonkeyPatch, environment: str
) -> None:
    monkeypatch.delenv("NOTIFY_TOKEN", raising=False)
    assert Settings(environment=environment).notify_token == DEV_NOTIFY_TOKEN


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        (None, "NOTIFY_TOKEN must be set in production (it is the dev default)"),
        ("too-short", "NOTIFY_TOKEN must be at least 16 characters in production"),
    ],
)
def test_notify_command_refuses_to_start_saying_why(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    token: str | None,
    reason: str,
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    if token is None:
        monkeypatch.delenv("NOTIFY_TOKEN", raising=False)
    else:
        monkeypatch.setenv("NOTIFY_TOKEN", token)
    assert cli.main(["notify"]) == 2
    assert reason in capsys.readouterr().err
