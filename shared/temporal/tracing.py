"""Traces through Temporal: temporalio's `TracingInterceptor`, with each command's trace
carried on into the workflow.

temporalio's interceptor puts every span of a workflow in the trace of the call that started
it, and only links an update's or a signal's handling to its caller. A ticket lives for days
and takes many commands, so here a command's handling is a child of its caller's span, and
the publish that follows in the same workflow task a child of that handling: one trace runs
from the HTTP request through the update and the publishing activity (and on to notify's
delivery of what it queued: shared/tracing/carrier.py). The publishes of a deadline stay in
the trace that started the workflow, where temporalio puts them.

Workflow spans are made and ended at once (temporalio's legacy design: a span left open is
not replay-safe), never on replay, and name only workflow, run and activity ids.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import opentelemetry.context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import SpanKind, Tracer
from temporalio import workflow
from temporalio.api.common.v1 import Payload
from temporalio.contrib.opentelemetry import TracingInterceptor, TracingWorkflowInboundInterceptor
from temporalio.worker import (
    HandleSignalInput,
    HandleUpdateInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from shared.tracing.process import PROPAGATOR

Carrier = dict[str, str]


class CommandTracing(TracingInterceptor):
    """For `Client.connect`: the client's calls, and the workers built on that client."""

    def __init__(self, tracer: Tracer | None = None) -> None:
        """`tracer`: the process's (a test's own, else the global provider's)."""
        super().__init__(tracer or trace.get_tracer(__name__))
        self.text_map_propagator = PROPAGATOR

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[TracingWorkflowInboundInterceptor]:
        super().workflow_interceptor_class(input)
        return CommandWorkflowTracing


@dataclass
class _Outbound:
    """Where `_completed_span` puts the context of the span it made."""

    headers: Mapping[str, Payload] = field(default_factory=dict)


class CommandWorkflowTracing(TracingWorkflowInboundInterceptor):
    def __init__(self, next: WorkflowInboundInterceptor) -> None:
        super().__init__(next)
        self.text_map_propagator = PROPAGATOR
        # The last command handled, and the history length of the workflow task it came in:
        # a publish in that same task is its consequence; a later one is not.
        self._command: tuple[Carrier, int] | None = None

    def handle_update_validator(self, input: HandleUpdateInput) -> None:
        caller = self._caller(input.headers)
        if caller is None:
            super().handle_update_validator(input)
            return
        self._span_under(caller, f"ValidateUpdate:{input.update}")
        self.next.handle_update_validator(input)

    async def handle_update_handler(self, input: HandleUpdateInput) -> Any:
        caller = self._caller(input.headers)
        if caller is None:
            return await super().handle_update_handler(input)
        handling = self._span_under(caller, f"HandleUpdate:{input.update}")
        result = await self.next.handle_update_handler(input)
        self._remember(handling)  # not for a refused one: it changed nothing to publish
        return result

    async def handle_signal(self, input: HandleSignalInput) -> None:
        caller = self._caller(input.headers)
        if caller is None:
            await super().handle_signal(input)
            return
        handling = self._span_under(caller, f"HandleSignal:{input.signal}")
        await self.next.handle_signal(input)
        self._remember(handling)

    def _completed_span(self, span_name: str, **kwargs: Any) -> None:
        """Every workflow span is made here: an activity started in the workflow task of the
        last command handled is put under that command's handling."""
        command = self._command
        if (
            command is None
            or not span_name.startswith("StartActivity:")
            or command[1] != workflow.info().get_current_history_length()
        ):
            super()._completed_span(span_name, **kwargs)
            return
        self._command = None
        with _attached(self.text_map_propagator.extract(command[0])):
            super()._completed_span(span_name, **kwargs)

    def _caller(self, headers: Mapping[str, Payload]) -> Carrier | None:
        payload = headers.get(self.header_key)
        if not payload:
            return None
        carrier: Carrier | None = self.payload_converter.from_payloads([payload])[0]
        return carrier or None

    def _span_under(self, caller: Carrier, name: str) -> Carrier | None:
        """A span `name` as a child of the caller's; its context (None when replaying)."""
        made = _Outbound()
        with _attached(self.text_map_propagator.extract(caller)):
            self._completed_span(name, add_to_outbound=made, kind=SpanKind.SERVER)
        payload = made.headers.get(self.header_key)
        if payload is None:
            return None
        carrier: Carrier = self.payload_converter.from_payloads([payload])[0]
        return carrier

    def _remember(self, handling: Carrier | None) -> None:
        if handling is not None:
            self._command = (handling, workflow.info().get_current_history_length())


@contextmanager
def _attached(context: Context) -> Iterator[None]:
    """`context` is the current OpenTelemetry context while inside."""
    token = opentelemetry.context.attach(context)
    try:
        yield
    finally:
        opentelemetry.context.detach(token)
