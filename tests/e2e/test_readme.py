"""The README's API walk, run verbatim (but for the stack's ports) against the real stack: the
documentation cannot drift from the product without this failing."""

import re
import subprocess

import pytest

from services.devstack import Stack
from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e


def walk() -> str:
    """The first shell block of the README's "Using the API" section."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Using the API") :]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match is not None, "no shell block under 'Using the API'"
    return match.group(1)


def test_the_readme_api_walk_runs(stack: Stack) -> None:
    script = (
        walk()
        .replace("http://127.0.0.1:8000", stack.intake_url)
        .replace("http://127.0.0.1:8001", stack.notify_url)
        .replace("dev-only-notify-token-change-me", stack.env["NOTIFY_TOKEN"])
    )
    # Every call must succeed: curl fails the script on an HTTP error.
    strict = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n' + script
    done = subprocess.run(
        ["bash", "-c", strict], capture_output=True, text=True, timeout=120, env=stack.env
    )
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    number = re.search(r"ticket (\d+)", done.stdout)
    assert number is not None, done.stdout[-2000:]
    # The walk's story happened: the ticket was closed, and the requester was told.
    assert '"kind":"closed"' in done.stdout.replace(" ", "")
    assert f"[#{number.group(1)}] Closed" in done.stdout
