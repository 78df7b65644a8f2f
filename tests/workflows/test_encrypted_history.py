"""Who a requester is and what they wrote about is never readable in Temporal: not in what
`temporal workflow show` or `describe` print without the codec, nor in the server's own
database file. A ticket started without the codec shows this check would see it."""

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.workflows.activities import TicketActivities
from services.workflows.ticket_workflow import TicketWorkflow
from shared.crypto.key_store import KeyStore
from shared.db.engine import make_engine, make_sessionmaker
from shared.domain.enums import Action, ActorKind
from shared.domain.models import Actor, Person
from shared.temporal.converter import data_converter
from tests.builders import cmd, new_input, ref
from tests.databases import sqlite_database
from tests.devserver import start_dev_server
from tests.servers import binary
from tests.workflows.conftest import RecordingNotifier, send, start

NAME = "Zelda Quuxworth"
EMAIL = "zelda.quuxworth@example.org"
SUBJECT = "Quuxworthian mainframe has melted"


@dataclass
class Server:
    env: WorkflowEnvironment
    queue: str
    database: Path
    published: RecordingNotifier

    def temporal(self, *args: str) -> str:
        """What the CLI prints for people (payloads it can read shown as JSON), as an operator
        without the codec sees it."""
        address = self.env.client.service_client.config.target_host
        command = [binary("temporal"), *args, "--address", address]
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
        return done.stdout

    def stored(self) -> bytes:
        """The server's database as it lies on disk (its write-ahead log too)."""
        return b"".join(p.read_bytes() for p in self.database.parent.glob(self.database.name + "*"))


@pytest.fixture(scope="module")
async def server(
    key_store: KeyStore, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Server]:
    var = tmp_path_factory.mktemp("encrypted")
    database = var / "temporal.db"
    env = await start_dev_server(data_converter(key_store), database_file=str(database))
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    published = RecordingNotifier()
    try:
        with sqlite_database(var) as url:
            published.sessions = make_sessionmaker(make_engine(url))
            published.real = TicketActivities(published.sessions)
            with ThreadPoolExecutor(max_workers=4) as executor:
                async with Worker(
                    env.client,
                    task_queue=queue,
                    workflows=[TicketWorkflow],
                    activities=[published.publish_ticket],
                    activity_executor=executor,
                ):
                    yield Server(env, queue, database, published)
    finally:
        await env.shutdown()


async def test_no_requester_data_is_readable_in_temporal(server: Server) -> None:
    requester = Actor(kind=ActorKind.REQUESTER, name=NAME)
    data = new_input(subject=SUBJECT, requester=Person(name=NAME, email=EMAIL))
    handle = await start(server.env.client, server.queue, data)
    await send(handle, cmd(Action.ASSIGN, agent="john"))
    await send(handle, cmd(Action.REQUESTER_REPLY, requester, message=ref(f"{NAME} again")))
    # An illegal signal is recorded with its reason, in the state: encrypted as well.
    await handle.signal(TicketWorkflow.resolve_signal, cmd(Action.RATE, requester))
    state = await handle.query(TicketWorkflow.state)
    assert (state.requester.email, state.subject) == (EMAIL, SUBJECT)  # through the codec
    for _ in range(100):  # the publish activity (its input: the state) has run
        if len(server.published.batches) >= 3:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"published {len(server.published.batches)} batches, not 3")

    # A ticket started by a client without the codec: its requester's address is there.
    plain = await Client.connect(
        server.env.client.service_client.config.target_host, data_converter=data_converter(None)
    )
    control = new_input(requester=Person(name="Plain Control", email="plain.control@example.org"))
    await plain.start_workflow(
        TicketWorkflow.run,
        control,
        id=f"plain-{control.number}",
        task_queue="nobody-polls",
        static_summary=control.subject,
    )
    await plain.get_workflow_handle(f"plain-{control.number}").terminate("control seen")

    shown = server.temporal("workflow", "show", "--detailed", "--workflow-id", handle.id)
    described = server.temporal("workflow", "describe", "--workflow-id", handle.id)
    control_id = f"plain-{control.number}"
    control_shown = server.temporal("workflow", "show", "--detailed", "--workflow-id", control_id)
    control_described = server.temporal("workflow", "describe", "--workflow-id", control_id)
    stored = server.stored()
    assert "plain.control@example.org" in control_shown
    assert control.subject in control_described  # its summary
    assert b"plain.control@example.org" in stored
    assert "encryption-key-id" in shown and handle.id.encode() in stored
    for secret in (NAME, EMAIL, SUBJECT, "Quuxworth"):
        assert secret not in shown and secret not in described, secret
        assert secret.encode() not in stored, secret
