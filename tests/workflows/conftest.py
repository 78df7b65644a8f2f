"""A time-skipping Temporal server and a worker with the real workflow and persistence."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.workflows.activities import TicketActivities
from services.workflows.starts import start_options
from services.workflows.ticket_workflow import TicketWorkflow
from shared.crypto.key_ring import KeyRing
from shared.crypto.key_store import KeyStore
from shared.db import thread
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import SlaClockFactRow
from shared.domain import lifecycle
from shared.domain.enums import SlaClock
from shared.domain.models import (
    Notice,
    PublishBatch,
    TicketCommand,
    TicketInput,
    TicketView,
    TimelineEvent,
)
from shared.settings import Settings
from shared.temporal import names
from shared.temporal.client import register_search_attributes
from shared.temporal.converter import data_converter
from tests.builders import TEST_ENCRYPTION_KEYS
from tests.databases import sqlite_database
from tests.servers import binary


class RecordingNotifier:
    """Wraps the real publish activity and records the notices each batch queued, by role
    (this layer's database has no agents, so most roles resolve to nobody)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Notice]] = []
        self.batches: list[PublishBatch] = []
        self.real: TicketActivities | None = None
        self.sessions: sessionmaker[Session] | None = None

    @activity.defn(name="publish_ticket")
    def publish_ticket(self, batch: PublishBatch) -> list[str]:
        assert self.real is not None
        self.batches.append(batch)
        done = self.real.publish_ticket(batch)
        if not done[0].endswith("already published"):
            self.sent += [(batch.state.number, notice) for notice in batch.notices]
        return done

    def kinds(self, ticket: str) -> list[tuple[str, str]]:
        return [
            (notice.kind.value, notice.recipient.role.value)
            for number, notice in self.sent
            if number == ticket
        ]

    def clock_outcomes(self, ticket: str, clock: SlaClock) -> list[str]:
        """The published outcomes of a clock's runs, by cycle."""
        assert self.sessions is not None
        with self.sessions() as session:
            rows = session.scalars(
                select(SlaClockFactRow)
                .where(SlaClockFactRow.ticket == ticket, SlaClockFactRow.clock == clock.value)
                .order_by(SlaClockFactRow.cycle)
            )
            return [row.outcome for row in rows]

    def clock_facts(self, ticket: str) -> list[tuple[str, str, str | None, str | None]]:
        """The published clock facts: (clock, outcome, team, assignee), by clock and cycle."""
        assert self.sessions is not None
        with self.sessions() as session:
            rows = session.scalars(
                select(SlaClockFactRow)
                .where(SlaClockFactRow.ticket == ticket)
                .order_by(SlaClockFactRow.clock, SlaClockFactRow.cycle)
            )
            return [(row.clock, row.outcome, row.team, row.assignee) for row in rows]

    def clocks_written(self, ticket: str) -> list[bool]:
        """For each publish of the ticket, whether it wrote the clock facts."""
        return [b.clocks_changed for b in self.batches if b.state.number == ticket]

    def timeline(self, ticket: str) -> list[TimelineEvent]:
        """The ticket's published timeline."""
        assert self.sessions is not None
        with self.sessions() as session:
            return thread.timeline_of(session, ticket)


@pytest.fixture(scope="session")
def key_sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """The database of the data keys of every workflow these tests run."""
    with sqlite_database(tmp_path_factory.mktemp("keys")) as url:
        engine = make_engine(url)
        yield make_sessionmaker(engine)
        engine.dispose()


@pytest.fixture(scope="session")
def key_store(key_sessions: sessionmaker[Session]) -> KeyStore:
    return KeyStore(key_sessions, KeyRing.parse(TEST_ENCRYPTION_KEYS))


@pytest.fixture(scope="session")
async def time_env(key_store: KeyStore) -> AsyncIterator[WorkflowEnvironment]:
    """With the project's data converter: every payload encrypted, as in production."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server"),
        data_converter=data_converter(key_store),
    )
    await register_search_attributes(env.client, "default")
    yield env
    await env.shutdown()


@pytest.fixture(scope="session")
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


@pytest.fixture(scope="session")
async def worker(
    time_env: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
    notifier: RecordingNotifier,
) -> AsyncIterator[tuple[Client, str]]:
    """One worker for the session; each test's tickets are told apart by number."""
    queue = f"tq-{uuid.uuid4().hex[:8]}"
    with sqlite_database(tmp_path_factory.mktemp("wf")) as url:
        sessions = make_sessionmaker(make_engine(url))
        notifier.real = TicketActivities(sessions)
        notifier.sessions = sessions
        with ThreadPoolExecutor(max_workers=8) as executor:
            async with Worker(
                time_env.client,
                task_queue=queue,
                workflows=[TicketWorkflow],
                activities=[notifier.publish_ticket],
                activity_executor=executor,
            ):
                yield time_env.client, queue


@pytest.fixture(autouse=True)
async def _terminate_leftovers() -> AsyncIterator[None]:
    """End the tickets a test left open, so their timers do not burden the next test.

    The time-skipping server locks skipping while an activity runs, and terminating a workflow
    mid-activity leaves that lock held for good: wait for running activities first.
    """
    yield
    while STARTED:
        handle = STARTED.pop()
        # A completed workflow cannot be terminated (RPCError), and describing one fails to
        # decode in this SDK version (TypeError): both mean there is nothing left to end.
        with contextlib.suppress(RPCError, TypeError):
            for _ in range(100):
                description = await handle.describe()
                if not description.raw_description.pending_activities:
                    break
                await asyncio.sleep(0.05)
            await handle.terminate("test over")


STARTED: list[WorkflowHandle[TicketWorkflow, TicketView]] = []


async def start(
    client: Client, queue: str, data: TicketInput
) -> WorkflowHandle[TicketWorkflow, TicketView]:
    """Started as the API starts a ticket (its options, search attributes from its first
    state)."""
    # A run that goes on from a stored state (a reopened closed ticket) takes the id again.
    new = data.prior_state is None
    state = data.prior_state or lifecycle.open_ticket(data, datetime.now(UTC))[0]
    options = start_options(Settings(temporal_task_queue=queue), state, new=new)
    handle = await client.start_workflow(TicketWorkflow.run, data, **options)
    STARTED.append(handle)
    return handle


async def send(
    handle: WorkflowHandle[TicketWorkflow, TicketView], command: TicketCommand
) -> TicketView:
    """A command as the API sends it: the update named for its action."""
    return await handle.execute_update(
        names.update_for(command.action), command, result_type=TicketView
    )
