"""If-Match in the workflow: the ticket's own state decides, in the update's validator (no
history for a refusal) and for signals (recorded as rejected)."""

import asyncio

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from services.workflows.ticket_workflow import TicketWorkflow
from shared.domain.enums import Action, ActorKind, EventKind
from shared.domain.lifecycle import Refusal
from shared.domain.models import Actor, TicketView
from shared.temporal import names
from tests.builders import cmd, new_input, ref
from tests.workflows.conftest import RecordingNotifier, send, start

CRM = Actor(kind=ActorKind.INTEGRATION, name="crm", handle="key:1")


async def test_an_update_expecting_a_stale_version_is_refused_and_changes_nothing(
    worker: tuple[Client, str],
) -> None:
    client, queue = worker
    handle = await start(client, queue, new_input())
    seen = await handle.query(TicketWorkflow.view)
    moved = await send(handle, cmd(Action.NOTE, CRM, message=ref("first")))
    assert moved.version == seen.version + 1
    stale = cmd(Action.NOTE, CRM, message=ref("second"), expected_version=seen.version)
    try:
        await handle.execute_update(names.update_for(Action.NOTE), stale)
    except WorkflowUpdateFailedError as err:
        assert isinstance(err.cause, ApplicationError)
        assert err.cause.type == Refusal.VERSION_MISMATCH.value
    else:
        raise AssertionError("a command expecting a stale version was applied")
    after = await handle.query(TicketWorkflow.state)
    assert after.version == moved.version and after.thread_count == 2
    current = cmd(Action.NOTE, CRM, message=ref("third"), expected_version=moved.version)
    applied = await handle.execute_update(
        names.update_for(Action.NOTE), current, result_type=TicketView
    )
    assert applied.version == moved.version + 1 and applied.thread_count == 3


async def test_a_signal_expecting_a_stale_version_is_recorded_as_rejected(
    worker: tuple[Client, str], notifier: RecordingNotifier
) -> None:
    client, queue = worker
    handle = await start(client, queue, new_input())
    seen = await handle.query(TicketWorkflow.view)
    stale = cmd(Action.NOTE, CRM, message=ref("x"), expected_version=seen.version + 3)
    await handle.signal(names.SIGNAL_NOTE, stale)
    number = seen.number
    for _ in range(100):  # the rejection is published by the signal's workflow task
        rejected = [e for e in notifier.timeline(number) if e.kind is EventKind.REJECTED]
        if rejected:
            break
        await asyncio.sleep(0.05)
    state = await handle.query(TicketWorkflow.state)
    assert state.thread_count == 1
    assert len(rejected) == 1 and rejected[0].actor == CRM
    assert f"not {seen.version + 3}" in rejected[0].detail["reason"]
