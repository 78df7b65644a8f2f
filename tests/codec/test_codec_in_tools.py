"""The codec server as the Temporal tools use it, all real processes: a dev server whose UI
is started with `--ui-codec-endpoint`, `ticketflow codec` on a free port (both as `make run`
starts them, in development), and a ticket's workflow started encrypted as the API starts it.
`temporal workflow show` reads its subject through the codec with an agent's credential;
Chromium shows it on the UI's page of the workflow, and only ciphertext once the codec server
has stopped. Every process started here is gone at the end."""

import asyncio
import signal
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from services.devstack import Stack
from services.processes import free_port, port_taken, wait_for_port
from services.workflows.starts import start_options
from services.workflows.ticket_workflow import TicketWorkflow
from shared.domain import lifecycle
from shared.settings import Settings
from tests.builders import TEST_ENCRYPTION_KEYS, new_input
from tests.codec.helpers import demo_database
from tests.processes import Proc, family, kill_all, wait_gone
from tests.servers import binary
from tests.web.browsers import CHROMIUM, WAIT_MS

pytestmark = pytest.mark.e2e

SUBJECT = "Ledger of Quillfeather & Sons is off by one"
# "binary/encrypted" in base64, as the UI shows a payload it could not decode.
CIPHERTEXT_ENCODING = "YmluYXJ5L2VuY3J5cHRlZA=="


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Temporal (with its UI) and the codec server, on a database with the demo agents."""
    var = tmp_path_factory.mktemp("codec-stack")
    started: set[Proc] = set()
    with demo_database(var) as url:
        stack = Stack.on_free_ports(
            var,
            url,
            temporal_db=str(var / "temporal.db"),
            codec_port=free_port(),
            extra_env={"ENVIRONMENT": "development", "ENCRYPTION_KEYS": TEST_ENCRYPTION_KEYS},
        )
        try:
            stack.start_temporal()
            wait_for_port(stack.ui_port, proc=stack.procs["temporal"])
            stack.start_codec()
            yield stack
            started = set().union(*(family(proc.pid) for proc in stack.procs.values()))
        finally:
            stack.stop()
            survivors = wait_gone(started, timeout=20)
            kill_all(survivors)
    assert started and not survivors, survivors


@pytest.fixture(scope="module")
def ticket(stack: Stack) -> str:
    """A ticket's workflow id: started as the API starts one, its payloads encrypted under the
    ticket's own key (no worker runs: its input is enough to show)."""

    async def start() -> str:
        client = await stack.temporal_client()
        data = new_input(subject=SUBJECT)
        state = lifecycle.open_ticket(data, datetime.now(UTC))[0]
        options = start_options(Settings(), state, new=True)
        handle = await client.start_workflow(TicketWorkflow.run, data, **options)
        return handle.id

    return asyncio.run(start())


@pytest.fixture
def codec(stack: Stack) -> str:
    """The codec server's URL, started again if a test stopped it."""
    if "codec" not in stack.procs:
        stack.start_codec()
    return stack.codec_url


def show(stack: Stack, workflow_id: str, *options: str) -> subprocess.CompletedProcess[str]:
    command = [binary("temporal"), "workflow", "show", "--detailed", "--workflow-id", workflow_id]
    command += ["--address", f"127.0.0.1:{stack.temporal_port}", *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_temporal_workflow_show_reads_the_ticket_through_the_codec(
    stack: Stack, ticket: str, codec: str
) -> None:
    # As an operator points the CLI at it: the namespace in the path, a viewer's token.
    endpoint = ["--codec-endpoint", f"{codec}/{{namespace}}"]
    shown = show(stack, ticket, *endpoint, "--codec-auth", "Bearer dev-vera-token")
    assert shown.returncode == 0, shown.stderr
    assert f"subject: {SUBJECT}" in shown.stdout
    assert "requester.email: alice@example.com" in shown.stdout
    # Without the codec: ciphertext. With a credential that is nobody's: refused, nothing shown.
    plain = show(stack, ticket)
    assert plain.returncode == 0, plain.stderr
    assert SUBJECT not in plain.stdout and CIPHERTEXT_ENCODING in plain.stdout
    # (The CLI tries a refusing codec again until its command times out.)
    refused = show(
        stack, ticket, *endpoint, "--codec-auth", "Bearer not-a-token", "--command-timeout", "2s"
    )
    assert refused.returncode != 0 and SUBJECT not in refused.stdout + refused.stderr
    assert '"POST /default/decode HTTP/1.1" 401' in (stack.var / "codec.log").read_text()


def test_the_temporal_ui_shows_the_ticket_in_clear_only_through_the_codec(
    stack: Stack, ticket: str, codec: str
) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(WAIT_MS)
            page.goto(f"http://127.0.0.1:{stack.ui_port}/namespaces/default/workflows/{ticket}")
            expect(page.get_by_text(SUBJECT)).to_be_visible(timeout=WAIT_MS)
            expect(page.get_by_text(CIPHERTEXT_ENCODING)).to_have_count(0)

            stack.kill("codec", signal.SIGTERM)  # waits until it has exited
            assert "Application shutdown complete" in (stack.var / "codec.log").read_text()
            assert not port_taken(int(codec.rsplit(":", 1)[1]))
            page.reload()
            # The input is shown as it is stored: encrypted.
            expect(page.get_by_text(CIPHERTEXT_ENCODING)).to_be_visible(timeout=WAIT_MS)
            expect(page.get_by_text(SUBJECT)).to_have_count(0)
        finally:
            browser.close()


def test_make_run_points_the_ui_at_the_codec(stack: Stack) -> None:
    command = Path(f"/proc/{stack.procs['temporal'].pid}/cmdline").read_bytes().split(b"\0")
    at = command.index(b"--ui-codec-endpoint")
    assert command[at + 1].decode() == stack.codec_url
