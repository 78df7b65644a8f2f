"""docker-compose.yml cannot run here (no Docker engine): check it agrees with the code."""

import argparse
from pathlib import Path
from typing import Any

import yaml

from shared.settings import Settings

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
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="SECRET_KEY"):
        Settings(environment="production")
