"""The worker process: runs ticket workflows and their activities."""

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from services.workflows.activities import TicketActivities
from services.workflows.ticket_workflow import TicketWorkflow
from shared.db.engine import engine_for, make_sessionmaker
from shared.settings import Settings
from shared.temporal.client import connect, register_search_attributes

log = logging.getLogger(__name__)


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    sessions = make_sessionmaker(engine_for(settings))
    activities = TicketActivities(sessions, channel=settings.notify_default_channel)
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[TicketWorkflow],
        activities=[activities.publish_ticket],
        activity_executor=executor,
        max_concurrent_activities=32,
        max_cached_workflows=settings.worker_max_cached_workflows,
        sticky_queue_schedule_to_start_timeout=timedelta(
            seconds=settings.worker_sticky_timeout_seconds
        ),
        # The workflow's code is pure (shared.domain) and only reads workflow.now(); the
        # sandbox's per-activation cost was a fifth of a command's. The replay and workflow
        # tests run it sandboxed, so a non-deterministic call still fails them.
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


async def run_worker(settings: Settings) -> None:
    client = await connect(settings)
    await register_search_attributes(client, settings.temporal_namespace)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=32) as executor:
        worker = build_worker(client, settings, executor)
        log.info("worker polling task queue %s", settings.temporal_task_queue)
        # Shut down explicitly on a signal: a worker left to interpreter exit has crashed
        # (TEMPORAL.md); shutdown lets running activities finish first.
        async with worker:
            await stop.wait()
