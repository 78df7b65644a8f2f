"""Workflow behaviour the time-skipping server cannot show: continue-as-new, search attributes."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.workflows.activities import TicketActivities
from services.workflows.ticket_workflow import TicketWorkflow
from shared.db import thread
from shared.db.engine import make_engine, make_sessionmaker
from shared.enums import Action, Priority
from tests.databases import sqlite_database
from tests.devserver import start_dev_server
from tests.messages import ref
from tests.workflows.conftest import RecordingNotifier, new_input, start
from tests.workflows.test_ticket_workflow import cmd


@pytest.fixture(scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    yield env
    await env.shutdown()


@pytest.fixture(scope="module")
async def dev_worker(
    dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[Client, str]]:
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    with sqlite_database(tmp_path_factory.mktemp("dev")) as url:
        sessions = make_sessionmaker(make_engine(url))
        DEV.sessions = sessions
        DEV.real = TicketActivities(sessions)
        with ThreadPoolExecutor(max_workers=8) as executor:
            async with Worker(
                dev_env.client,
                task_queue=queue,
                workflows=[TicketWorkflow],
                activities=[DEV.publish_ticket],
                activity_executor=executor,
            ):
                yield dev_env.client, queue


DEV = RecordingNotifier()


async def test_continue_as_new_keeps_state_and_messages(dev_worker: tuple[Client, str]) -> None:
    client, queue = dev_worker
    handle = await start(client, queue, new_input())
    first_run = handle.first_execution_run_id
    # Signals sent concurrently while the workflow continues as new must all land.
    await asyncio.gather(
        *(
            handle.signal(TicketWorkflow.note, cmd(Action.NOTE, message=ref(f"note {i}")))
            for i in range(80)
        )
    )
    latest = client.get_workflow_handle_for(TicketWorkflow.run, handle.id)
    state = await latest.execute_update(
        TicketWorkflow.execute, cmd(Action.NOTE, message=ref("last"))
    )
    assert state.thread_count == 1 + 81
    assert DEV.sessions is not None
    with DEV.sessions() as session:
        published = thread.thread_of(session, handle.id.removeprefix("ticket-"), state.thread)
    notes = sorted(e.message_id for e in published if e.kind.value == "note")
    assert notes == sorted([ref(f"note {i}").id for i in range(80)] + [ref("last").id])
    for _ in range(50):  # the update answers before the loop continues as new
        if (await latest.describe()).run_id != first_run:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the workflow never continued as new")
    carried = await latest.query(TicketWorkflow.state)
    # The new run carries counts, not the thread: everything was published before it began.
    assert carried.thread_count == 1 + 81 and carried.thread == [] and carried.timeline == []


async def test_search_attributes_follow_the_ticket(dev_worker: tuple[Client, str]) -> None:
    client, queue = dev_worker
    data = new_input()
    handle = await start(client, queue, data)
    await handle.execute_update(
        TicketWorkflow.execute, cmd(Action.CHANGE_PRIORITY, priority=Priority.EMERGENCY)
    )
    await handle.execute_update(TicketWorkflow.execute, cmd(Action.ASSIGN, agent="john"))
    query = f'WorkflowId="{handle.id}" AND TicketPriority="emergency" AND TicketAssignee="john"'
    for _ in range(50):
        if [w async for w in client.list_workflows(query)]:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"no workflow matched {query}")
