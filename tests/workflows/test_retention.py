"""RETENTION_DAYS on the dev server: the worker's start brings the schedule in line with the
setting (made, kept, changed, deleted, each once), and a retention run erases the tickets
closed before its cut-off and only those, with the real worker and database."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, ScheduleActionStartWorkflow
from temporalio.testing import WorkflowEnvironment

from services.workflows.retention_schedule import ScheduleChange, sync_retention_schedule
from services.workflows.retention_workflow import RetentionWorkflow
from services.workflows.worker import build_worker
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.projection import stored_state
from shared.db.tables import TicketRow
from shared.domain.erasure import RetentionInput, RetentionResult, is_erased
from shared.settings import Settings
from shared.temporal import names
from tests.builders import seed_ticket
from tests.databases import sqlite_database
from tests.devserver import start_dev_server


@pytest.fixture(scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    yield env
    await env.shutdown()


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    with sqlite_database(tmp_path) as url:
        yield url


async def test_the_schedule_follows_retention_days(dev_env: WorkflowEnvironment) -> None:
    client, queue = dev_env.client, f"tq-{uuid.uuid4().hex[:8]}"

    async def sync(days: int | None) -> ScheduleChange:
        return await sync_retention_schedule(
            client, Settings(retention_days=days, temporal_task_queue=queue)
        )

    assert [await sync(None), await sync(30), await sync(30)] == [
        ScheduleChange.ABSENT,
        ScheduleChange.CREATED,
        ScheduleChange.UNCHANGED,
    ]
    assert await sync(7) == ScheduleChange.UPDATED
    described = await client.get_schedule_handle(names.RETENTION_SCHEDULE).describe()
    action = described.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.task_queue) == (names.RETENTION_WORKFLOW, queue)
    [days] = await client.data_converter.decode(action.args, [RetentionInput])
    assert days == RetentionInput(days=7)
    assert described.schedule.spec.intervals[0].every == timedelta(days=1)
    assert [await sync(None), await sync(None)] == [ScheduleChange.DELETED, ScheduleChange.ABSENT]


def age(sessions: sessionmaker[Session], number: str, days: int) -> None:
    """As if the ticket had last changed `days` ago."""
    when = datetime.now(UTC) - timedelta(days=days)
    with sessions.begin() as session:
        session.execute(update(TicketRow).where(TicketRow.number == number).values(updated_at=when))


async def test_a_run_erases_only_tickets_closed_before_its_cutoff(
    dev_env: WorkflowEnvironment, database_url: str, tmp_path: Path
) -> None:
    client: Client = dev_env.client
    settings = Settings(
        database_url=database_url,
        temporal_task_queue=f"tq-{uuid.uuid4().hex[:8]}",
        blob_store_dir=str(tmp_path / "blobs"),
    )
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)

    def seed() -> None:  # the publish step is the services': off the event loop
        for number, closed in (("100001", True), ("100002", True), ("100003", False)):
            seed_ticket(database_url, number, email=f"{number}@example.com", closed=closed)
        age(sessions, "100001", 40)
        age(sessions, "100003", 40)  # old, but open

    await asyncio.to_thread(seed)
    with ThreadPoolExecutor(max_workers=32) as executor:  # as run_worker builds it
        async with build_worker(client, settings, executor):
            result = await client.execute_workflow(
                RetentionWorkflow.run,
                RetentionInput(days=30),
                id=f"retention-{uuid.uuid4().hex[:8]}",
                task_queue=settings.temporal_task_queue,
            )
    assert result == RetentionResult(erased=1, skipped=0, mail=0)

    def erased(number: str) -> bool:
        with sessions() as session:
            state = stored_state(session, number)
        assert state is not None
        return is_erased(state)

    assert [erased(n) for n in ("100001", "100002", "100003")] == [True, False, False]
    engine.dispose()
