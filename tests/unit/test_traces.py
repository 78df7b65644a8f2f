"""Traces' pure parts, with a real OpenTelemetry SDK tracer of the test's own: what a span
keeps when it leaves a process (no person's data), the traceparent a notification carries,
the trace id of a JSON log line, and that nothing is set up without an endpoint. The whole
path through the stack is tested in tests/e2e/test_traces.py, the workflow's part in
tests/workflows/test_command_traces.py."""

import json
import logging

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import format_span_id, format_trace_id
from opentelemetry.util.types import AttributeValue
from pydantic import ValidationError

from shared.logs import JsonFormatter, log_context
from shared.settings import Settings
from shared.temporal.client import connect
from shared.temporal.tracing import CommandTracing
from shared.tracing.carrier import context_of, current_traceparent
from shared.tracing.process import tracing
from shared.tracing.redaction import RedactingExporter

OTHER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture
def exported() -> tuple[trace.Tracer, InMemorySpanExporter]:
    """A tracer whose spans go through the redaction to memory."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(memory)))
    return provider.get_tracer("test"), memory


def only(memory: InMemorySpanExporter) -> ReadableSpan:
    (span,) = memory.get_finished_spans()
    return span


def test_urls_lose_their_query_strings_and_client_addresses_go(
    exported: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, memory = exported
    attributes: dict[str, AttributeValue] = {
        "http.url": "http://127.0.0.1:8000/api/v1/tickets?requester=alice%40example.com",
        "url.full": "http://127.0.0.1:8002/t/100042?k=s3cret-credential#top",
        "http.target": "/api/v1/tickets?email=alice@example.com",
        "url.query": "email=alice@example.com",
        "url.path": "/api/v1/tickets",
        "net.peer.ip": "203.0.113.7",
        "client.address": "203.0.113.7",
        "http.status_code": 200,
    }
    with tracer.start_as_current_span("GET /api/v1/tickets", attributes=attributes):
        pass
    assert dict(only(memory).attributes or {}) == {
        "http.url": "http://127.0.0.1:8000/api/v1/tickets",
        "url.full": "http://127.0.0.1:8002/t/100042",
        "http.target": "/api/v1/tickets",
        "url.path": "/api/v1/tickets",
        "http.status_code": 200,
    }


def test_invite_tokens_credentials_and_addresses_are_redacted_in_any_text(
    exported: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, memory = exported
    with (
        pytest.raises(ValueError),
        tracer.start_as_current_span(
            "GET /agent/invite/{token}",
            attributes={
                "url.path": "/agent/invite/tok-123",
                "http.target": "/api/v1/auth/invites/tok-456",
                "note": ["to bob@example.org", "see /t/1?k=abc&x=1"],
            },
        ),
    ):
        raise ValueError("no agent alice@example.com")
    span = only(memory)
    assert dict(span.attributes or {}) == {
        "url.path": "/agent/invite/[redacted]",
        "http.target": "/api/v1/auth/invites/[redacted]",
        "note": ("to [address]", "see /t/1?k=[redacted]&x=1"),
    }
    assert span.status.description == "ValueError: no agent [address]"
    (event,) = span.events
    assert "alice@example.com" not in json.dumps(dict(event.attributes or {}))
    assert "[address]" in str((event.attributes or {})["exception.message"])


def test_a_notification_carries_the_span_that_queued_it(
    exported: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, _ = exported
    assert current_traceparent() is None  # no span: nothing to carry
    with tracer.start_as_current_span("publish") as span:
        carried = current_traceparent()
    context = span.get_span_context()
    assert carried is not None
    ids = f"00-{format_trace_id(context.trace_id)}-{format_span_id(context.span_id)}-"
    assert carried.startswith(ids) and len(carried) == 55  # then the flags (sampled)
    parent = trace.get_current_span(context_of(carried)).get_span_context()
    assert (parent.trace_id, parent.span_id) == (context.trace_id, context.span_id)
    for nothing in (None, "", "00-junk"):
        assert not trace.get_current_span(context_of(nothing)).get_span_context().is_valid


def test_a_json_line_names_the_trace_of_the_current_span(
    exported: tuple[trace.Tracer, InMemorySpanExporter],
) -> None:
    tracer, _ = exported
    record = logging.LogRecord("ticketflow.x", logging.INFO, __file__, 1, "did it", (), None)
    # A request's traceparent header set the log context; its span (a child) is the same
    # trace, and where they differ the span's is the one the exporter sends.
    with log_context(trace_id=OTHER_TRACE), tracer.start_as_current_span("request") as span:
        line = json.loads(JsonFormatter().format(record))
    assert line["trace_id"] == format_trace_id(span.get_span_context().trace_id)
    with log_context(trace_id=OTHER_TRACE):
        assert json.loads(JsonFormatter().format(record))["trace_id"] == OTHER_TRACE


async def test_without_an_endpoint_nothing_is_set_up() -> None:
    settings = Settings(otel_exporter_otlp_endpoint="")
    assert settings.otel_exporter_otlp_endpoint is None
    before = trace.get_tracer_provider()
    with tracing(settings, "ticketflow-test"):
        assert trace.get_tracer_provider() is before
        assert not isinstance(before, TracerProvider)  # the API's own, a no-op
    client = await connect(settings, lazy=True)
    assert client.config()["interceptors"] == []
    traced = Settings(otel_exporter_otlp_endpoint="http://127.0.0.1:4318/")
    assert traced.otel_exporter_otlp_endpoint == "http://127.0.0.1:4318"
    client = await connect(traced, lazy=True)
    assert [type(i) for i in client.config()["interceptors"]] == [CommandTracing]


def test_an_endpoint_must_be_an_http_url() -> None:
    with pytest.raises(ValidationError, match="otel_exporter_otlp_endpoint"):
        Settings(otel_exporter_otlp_endpoint="collector:4318")
