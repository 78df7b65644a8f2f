"""Workflow behaviour the time-skipping server cannot show: continue-as-new, search attributes."""

import asyncio
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.workflows.activities import TicketActivities
from services.workflows.ticket_workflow import TicketWorkflow
from shared.crypto.key_store import KeyStore
from shared.db import thread
from shared.db.engine import make_engine, make_sessionmaker
from shared.domain.enums import Action, EventKind, Priority
from shared.domain.models import MessageRef
from shared.temporal.converter import data_converter
from tests.builders import cmd, new_input, ref
from tests.databases import sqlite_database
from tests.devserver import start_dev_server
from tests.payloads import payloads_of
from tests.workflows.conftest import RecordingNotifier, send, start


@pytest.fixture(scope="module")
async def dev_env(key_store: KeyStore) -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server(data_converter(key_store))
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
            handle.signal(TicketWorkflow.note_signal, cmd(Action.NOTE, message=ref(f"note {i}")))
            for i in range(80)
        )
    )
    latest = client.get_workflow_handle_for(TicketWorkflow.run, handle.id)
    state = await send(latest, cmd(Action.NOTE, message=ref("last")))
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
    await send(handle, cmd(Action.CHANGE_PRIORITY, priority=Priority.EMERGENCY))
    await send(handle, cmd(Action.ASSIGN, agent="john"))
    query = f'WorkflowId="{handle.id}" AND TicketPriority="emergency" AND TicketAssignee="john"'
    for _ in range(50):
        if [w async for w in client.list_workflows(query)]:
            break
        await asyncio.sleep(0.2)
    else:
        raise AssertionError(f"no workflow matched {query}")


async def test_a_thousand_message_ten_megabyte_ticket_stays_bounded(
    dev_worker: tuple[Client, str],
) -> None:
    """1,000 messages of 10 KiB each (10 MiB of text): every command still answers in about the
    same time, each run's history and every payload stay small, the continue-as-new chain
    ends in a working run, and its timers still fire."""
    client, queue = dev_worker
    data = new_input()
    handle = await start(client, queue, data)
    latest = client.get_workflow_handle_for(TicketWorkflow.run, handle.id)
    size = 10 * 1024
    took: list[float] = []
    for i in range(1000):
        began = time.perf_counter()
        note = cmd(Action.NOTE, message=MessageRef(id=f"{data.number}-{i}", size=size))
        view = await send(latest, note)
        took.append(time.perf_counter() - began)
    assert view.thread_count == 1001
    state = await latest.query(TicketWorkflow.state)
    assert data.message is not None
    assert state.thread_bytes == data.message.size + 1000 * size
    # A timer armed in the last run still fires: the pending reminder.
    remind_at = datetime.now(UTC) + timedelta(seconds=2)
    await send(latest, cmd(Action.SET_PENDING, remind_at=remind_at))
    for _ in range(100):
        if EventKind.PENDING_REMINDER in [e.kind for e in DEV.timeline(data.number)]:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the reminder never fired")
    runs = await history_sizes(client, handle.id)
    first, last = statistics.median(took[:50]), statistics.median(took[-50:])
    print(
        f"\n1,000 x 10 KiB messages: {len(runs)} runs; largest run history "
        f"{max(b for b, _ in runs) / 1024:.0f} KiB, largest payload {max(p for _, p in runs)} B; "
        f"command p50 at messages 1-50 {first * 1000:.1f} ms, at 951-1000 {last * 1000:.1f} ms"
    )
    assert len(runs) > 1  # the chain continued as new, and its last run works
    assert max(b for b, _ in runs) < 256 * 1024
    assert max(p for _, p in runs) < 64 * 1024
    assert last < 3 * first + 0.02


async def history_sizes(client: Client, workflow_id: str) -> list[tuple[int, int]]:
    """(history bytes, largest payload bytes) of each run of a continue-as-new chain."""
    out = []
    run_id: str | None = None
    while True:
        history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
        payloads = [len(p.data) for event in history.events for p in payloads_of(event)]
        out.append((sum(e.ByteSize() for e in history.events), max(payloads, default=0)))
        started = history.events[0].workflow_execution_started_event_attributes
        if not started.continued_execution_run_id:
            return out
        run_id = started.continued_execution_run_id
