"""Each command's trace through the ticket workflow (shared/temporal/tracing.py), on the
time-skipping server with the sandbox: an update's validation and handling are children of
the caller's span, and the publish that follows its handling a child of that; the publishes of
the ticket's opening and of a deadline stay in the trace that started the workflow, even after
a command that published nothing."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from services.workflows.activities import TicketActivities
from services.workflows.ticket_workflow import TicketWorkflow
from shared.db.engine import make_engine, make_sessionmaker
from shared.domain.enums import Action, Priority
from shared.temporal.tracing import CommandTracing
from tests.builders import cmd, new_input
from tests.databases import sqlite_database
from tests.workflows.conftest import send, start

PUBLISH = "StartActivity:publish_ticket"


class Spans:
    def __init__(self, finished: tuple[ReadableSpan, ...]) -> None:
        self.all = finished

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.all if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        (span,) = self.named(name)
        return span

    def children(self, parent: ReadableSpan, name: str) -> list[ReadableSpan]:
        return [s for s in self.named(name) if s.parent and s.parent.span_id == span_id(parent)]


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def traced_provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    return provider, memory


async def test_a_command_and_its_publish_are_in_the_callers_trace(
    time_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    provider, memory = traced_provider()
    tracer = provider.get_tracer("test")
    config = time_env.client.config()
    config["interceptors"] = [CommandTracing(tracer)]
    client = Client(**config)
    queue = f"tq-traces-{uuid.uuid4().hex[:8]}"
    with sqlite_database(tmp_path) as url, ThreadPoolExecutor(max_workers=4) as executor:
        engine = make_engine(url)
        activities = TicketActivities(make_sessionmaker(engine))
        async with Worker(
            client,
            task_queue=queue,
            workflows=[TicketWorkflow],
            activities=[activities.publish_ticket],
            activity_executor=executor,
        ):
            with tracer.start_as_current_span("open"):
                handle = await start(client, queue, new_input())
            command = cmd(Action.CHANGE_PRIORITY, priority=Priority.HIGH)
            with tracer.start_as_current_span("command"):
                await send(handle, command)
            with tracer.start_as_current_span("again"):  # seen before: nothing to publish
                await send(handle, command)
            # Past the first response target (4 h): the escalation is published by a timer.
            await time_env.sleep(timedelta(hours=5))
            state = await handle.query(TicketWorkflow.state)
            assert state.escalation_level == 1
        engine.dispose()
    spans = Spans(memory.get_finished_spans())

    (started,) = spans.children(spans.one("open"), "StartWorkflow:Ticket")
    assert spans.children(started, "RunWorkflow:Ticket")
    # The opening's publish and the escalation's: in the trace that started the workflow.
    assert len(spans.children(started, PUBLISH)) == 2

    (update,) = spans.children(spans.one("command"), "StartWorkflowUpdate:update.change_priority")
    assert spans.children(update, "ValidateUpdate:update.change_priority")
    (handled,) = spans.children(update, "HandleUpdate:update.change_priority")
    (publish,) = spans.children(handled, PUBLISH)
    assert spans.children(publish, "RunActivity:publish_ticket")
    (again,) = spans.children(spans.one("again"), "StartWorkflowUpdate:update.change_priority")
    (handled_again,) = spans.children(again, "HandleUpdate:update.change_priority")
    assert not spans.children(handled_again, PUBLISH)  # the escalation's is not its
    assert len(spans.named(PUBLISH)) == 3
    assert all(span.context and span.context.trace_id for span in spans.all)
