"""The trace context a notification carries from the activity that queued it to the notify
process that delivers it: a W3C `traceparent` (version, trace id, span id, flags: ids only),
and the span its delivery starts under the one that queued it."""

from contextlib import AbstractContextManager

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Tracer
from opentelemetry.util.types import Attributes

from shared.tracing.process import PROPAGATOR

TRACEPARENT = "traceparent"


def current_traceparent() -> str | None:
    """The current span's `traceparent`; None where no span is recorded (tracing is off)."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    PROPAGATOR.inject(carrier)
    return carrier.get(TRACEPARENT)


def context_of(traceparent: str | None) -> Context:
    """A context whose span is the one `traceparent` names (an empty one for None or junk),
    to start a span under it in another process."""
    if not traceparent:
        return Context()
    return PROPAGATOR.extract({TRACEPARENT: traceparent}, context=Context())


def consumer_span(
    tracer: Tracer, name: str, *, traceparent: str | None, attributes: Attributes
) -> AbstractContextManager[Span]:
    """A try at delivering what another process queued (a consumer's span), as a child of the
    span `traceparent` names."""
    return tracer.start_as_current_span(
        name, context=context_of(traceparent), kind=SpanKind.CONSUMER, attributes=attributes
    )
