"""docker-compose.yml cannot run here (no Docker engine): check it agrees with the code."""

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr, ValidationError

from shared.settings import Settings
from tests.builders import TEST_ENCRYPTION_KEYS

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return data


def ticketflow_services() -> dict[str, dict[str, Any]]:
    return {
        name: svc
        for name, svc in compose()["services"].items()
        if svc.get("command", [None])[0] == "ticketflow"
    }


def test_compose_has_the_production_stack() -> None:
    services = set(compose()["services"])
    assert {
        "postgres",
        "temporal",
        "temporal-ui",
        "intake",
        "notify",
        "worker",
        "mailsink",
    } <= services


def test_every_environment_variable_is_a_setting() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for name, svc in ticketflow_services().items():
        unknown = set(svc["environment"]) - fields
        assert not unknown, f"{name} sets variables the code never reads: {unknown}"


def test_every_command_is_a_cli_subcommand() -> None:
    from services import cli

    parser = cli.build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, svc in ticketflow_services().items():
        assert svc["command"][1] in subparsers.choices, name


def test_production_settings_demand_a_secret() -> None:
    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production")


@pytest.mark.parametrize("key", ["", "x", "short-but-not-default"])
def test_production_refuses_a_weak_secret(key: str) -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(environment="production", secret_key=key, notify_token="n" * 32)


def test_production_accepts_a_strong_secret() -> None:
    Settings(
        environment="production",
        secret_key="k" * 32,
        notify_token="n" * 32,
        encryption_keys=SecretStr(TEST_ENCRYPTION_KEYS),
    )


def test_the_image_runs_as_production() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ENV ENVIRONMENT=production" in dockerfile


def test_compose_publishes_temporal_and_its_ui_on_loopback_only() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    ports = [p for service in compose["services"].values() for p in service.get("ports", [])]
    for port in ports:
        if str(port).endswith(("7233", "8080")):
            assert str(port).startswith("127.0.0.1:"), port
