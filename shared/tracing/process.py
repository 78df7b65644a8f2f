"""A process's traces: its spans, under its own service name (ticketflow-intake, …), go by
OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT in batches (OTEL_BSP_SCHEDULE_DELAY and the other
OTEL_BSP_* and OTEL_EXPORTER_OTLP_* variables apply). Without that setting nothing is set up:
OpenTelemetry's API stays a no-op."""

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import propagate, trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.settings import Settings

# Only the W3C trace context crosses a process, never baggage: a caller could put anything
# in that, and it would travel on into Temporal's headers and the other services.
PROPAGATOR = TraceContextTextMapPropagator()


def tracing_enabled(settings: Settings) -> bool:
    return settings.otel_exporter_otlp_endpoint is not None


@contextmanager
def tracing(settings: Settings, service: str) -> Iterator[None]:
    """This process's spans are exported as `service` while inside; on the way out the ones
    still buffered are sent (the console command exits without atexit handlers)."""
    endpoint = settings.otel_exporter_otlp_endpoint
    if endpoint is None:
        yield
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from shared.tracing.redaction import RedactingExporter

    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service}), shutdown_on_exit=False
    )
    exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(RedactingExporter(exporter)))
    trace.set_tracer_provider(provider)
    propagate.set_global_textmap(PROPAGATOR)
    try:
        yield
    finally:
        provider.shutdown()
