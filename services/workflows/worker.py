"""The worker process: runs ticket workflows and their activities, and the erasure and
retention workflows (whose schedule it brings in line with its settings as it starts)."""

import asyncio
import logging
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from services.tickets.service import Tickets
from services.workflows.activities import TicketActivities
from services.workflows.erasure_activities import ErasureActivities
from services.workflows.erasure_workflow import ErasureWorkflow
from services.workflows.retention_schedule import sync_retention_schedule
from services.workflows.retention_workflow import RetentionWorkflow
from services.workflows.telemetry import sdk_runtime, serving_metrics
from services.workflows.ticket_workflow import TicketWorkflow
from shared.blobs import blob_store
from shared.db.engine import engine_for, make_sessionmaker
from shared.settings import Settings
from shared.temporal.client import connect, register_search_attributes

log = logging.getLogger(__name__)


def build_worker(client: Client, settings: Settings, executor: ThreadPoolExecutor) -> Worker:
    sessions = make_sessionmaker(engine_for(settings))
    activities = TicketActivities(sessions, channel=settings.notify_default_channel)
    erasing = ErasureActivities(Tickets(client, sessions, settings), blob_store(settings))
    return Worker(
        client,
        task_queue=settings.temporal_task_queue,
        workflows=[TicketWorkflow, ErasureWorkflow, RetentionWorkflow],
        activities=[
            activities.publish_ticket,
            erasing.requester_tickets,
            erasing.settle_ticket,
            erasing.scrub_ticket,
            erasing.forget_requester,
            erasing.expired_tickets,
            erasing.scrub_old_mail,
        ],
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
    client = await connect(settings, runtime=sdk_runtime(settings))
    await register_search_attributes(client, settings.temporal_namespace)
    retention = await sync_retention_schedule(client, settings)
    log.info("retention schedule: %s", retention.value)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=32) as executor, serving_metrics(settings):
        worker = build_worker(client, settings, executor)
        log.info("worker polling task queue %s", settings.temporal_task_queue)
        # Shut down explicitly on a signal: a worker left to interpreter exit has crashed
        # (TEMPORAL.md); shutdown lets running activities finish first.
        async with worker:
            await stop.wait()
