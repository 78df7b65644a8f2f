"""Production never runs with the demo file's public agent tokens."""

import subprocess
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from services.intake.app import create_app
from shared.access import DEMO_TOKENS
from shared.settings import Settings
from tests.builders import TEST_ENCRYPTION_KEYS

ROOT = Path(__file__).resolve().parents[2]
STRONG = {
    "secret_key": "s" * 32,
    "notify_token": "n" * 32,
    "encryption_keys": TEST_ENCRYPTION_KEYS,
}


def load_demo(database_url: str) -> None:
    done = subprocess.run(
        [str(ROOT / ".venv/bin/ticketflow"), "load-config", str(ROOT / "config/demo.yaml")],
        env={"DATABASE_URL": database_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


def test_the_demo_files_tokens_are_the_known_public_ones() -> None:
    demo = yaml.safe_load((ROOT / "config/demo.yaml").read_text())
    assert {a["token"] for a in demo["agents"] if a.get("token")} <= set(DEMO_TOKENS)


def test_production_refuses_to_start_with_demo_tokens(database_url: str) -> None:
    load_demo(database_url)
    app = create_app(Settings(database_url=database_url, environment="production", **STRONG))
    with pytest.raises(RuntimeError, match="demo file's public tokens"), TestClient(app):
        pass


def test_production_starts_once_the_demo_tokens_are_rotated(database_url: str) -> None:
    load_demo(database_url)
    jane = {"Authorization": "Bearer dev-jane-token"}
    with TestClient(create_app(Settings(database_url=database_url, environment="test"))) as c:
        for handle in ("jane", "john", "vera"):  # jane first: her new token does the rest
            r = c.patch(f"/api/v1/admin/agents/{handle}", json={"rotate_token": True}, headers=jane)
            assert r.status_code == 200, r.text
            if handle == "jane":
                jane = {"Authorization": f"Bearer {r.json()['token']}"}
    app = create_app(Settings(database_url=database_url, environment="production", **STRONG))
    with TestClient(app) as client:
        assert client.get("/api/v1/tickets", headers=jane).status_code in (200, 503)
