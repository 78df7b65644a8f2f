"""Determinism: recorded histories of earlier code replay cleanly against today's workflow."""

import json
import os
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from services.workflows.ticket_workflow import TicketWorkflow
from shared.domain.enums import Action, Priority
from shared.domain.models import AttachmentRef
from tests.builders import REQUESTER, cmd, new_input, ref
from tests.workflows.conftest import send, start

HISTORIES = Path(__file__).with_name("histories")


def replayer() -> Replayer:
    return Replayer(workflows=[TicketWorkflow], data_converter=pydantic_data_converter)


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    await replayer().replay_workflow(history)


async def test_fresh_lifecycle_history_replays(
    worker: tuple[Client, str], time_env: WorkflowEnvironment
) -> None:
    client, queue = worker
    handle = await start(client, queue, new_input(number=str(uuid.uuid4().int % 900_000 + 100_000)))
    await send(handle, cmd(Action.ASSIGN, agent="john"))
    await send(handle, cmd(Action.CHANGE_PRIORITY, priority=Priority.EMERGENCY))
    await time_env.sleep(timedelta(hours=1))
    await send(handle, cmd(Action.RESPOND, message=ref("On it")))
    await send(handle, cmd(Action.RESOLVE))
    await send(handle, cmd(Action.REQUESTER_REPLY, REQUESTER, message=ref("again")))
    await send(handle, cmd(Action.CLOSE))
    await handle.result()
    history = await handle.fetch_history()
    await replayer().replay_workflow(history)
    if record := os.environ.get("TICKETFLOW_RECORD_HISTORY"):
        (HISTORIES / f"{record}.json").write_text(json.dumps(history.to_json_dict(), indent=1))


async def test_a_history_with_attachments_replays(
    worker: tuple[Client, str], time_env: WorkflowEnvironment
) -> None:
    """File references ride on messages through updates, state and the publish step, and the
    history they leave replays; the files themselves never enter it."""
    client, queue = worker
    file = AttachmentRef(
        id="f" * 40, name="trace.log", content_type="text/plain", size=4096, sha256="a" * 64
    )
    first = ref("see the log").model_copy(update={"attachments": [file]})
    data = new_input(number=str(uuid.uuid4().int % 900_000 + 100_000), message=first)
    handle = await start(client, queue, data)
    note = ref("and the dump").model_copy(update={"attachments": [file, file]})
    await send(handle, cmd(Action.NOTE, message=note))
    state = await handle.query(TicketWorkflow.state)
    assert state.attachment_bytes == 3 * 4096
    await send(handle, cmd(Action.CLOSE))
    await handle.result()
    history = await handle.fetch_history()
    await replayer().replay_workflow(history)
