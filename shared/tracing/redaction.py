"""What a span may say when it leaves the process: no person's data. The HTTP instrumentation
records URLs, whose query strings can hold an address (`?requester=`, `?email=`) or a
portal link's credential (`?k=`), and the client's address; an exception's message can quote
an address. So, before export: URLs lose their query strings, client addresses go, invite
tokens in paths and `k=` credentials are redacted, and addresses are masked in every text."""

import re
from collections.abc import Sequence

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status
from opentelemetry.util.types import Attributes, AttributeValue

from shared.logs import mask_addresses

# Old and new HTTP semantic conventions alike (OTEL_SEMCONV_STABILITY_OPT_IN picks).
_DROPPED = frozenset(
    {
        "url.query",
        "client.address",
        "client.port",
        "http.client_ip",
        "net.peer.ip",
        "net.peer.port",
        "net.sock.peer.addr",
        "net.sock.peer.port",
        "network.peer.address",
        "network.peer.port",
    }
)
_URLS = frozenset({"http.url", "url.full", "http.target"})
# An invite's token is the path's last part (intake's /api/v1/auth/invites/…, the console's
# /agent/invite/…); a portal link's credential is its `k` parameter.
_SECRETS = re.compile(r"(/invites?/|[?&]k=)[^/?&#\s'\"]+")
REDACTED = "[redacted]"


def redact_text(text: str) -> str:
    return mask_addresses(_SECRETS.sub(rf"\1{REDACTED}", text))


def redact_attributes(attributes: Attributes) -> dict[str, AttributeValue]:
    kept: dict[str, AttributeValue] = {}
    for key, value in (attributes or {}).items():
        if key in _DROPPED:
            continue
        if key in _URLS and isinstance(value, str):
            value = value.split("?", 1)[0].split("#", 1)[0]
        kept[key] = _redact_value(value)
    return kept


def _redact_value(value: AttributeValue) -> AttributeValue:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Sequence) and value and all(isinstance(v, str) for v in value):
        return tuple(redact_text(str(v)) for v in value)
    return value


def redact_span(span: ReadableSpan) -> ReadableSpan:
    status = span.status
    return ReadableSpan(
        name=redact_text(span.name),
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=redact_attributes(span.attributes),
        events=[
            Event(event.name, redact_attributes(event.attributes), event.timestamp)
            for event in span.events
        ],
        links=span.links,
        kind=span.kind,
        status=Status(status.status_code, redact_text(status.description or "") or None),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingExporter(SpanExporter):
    """Hands `inner` each span as `redact_span` leaves it."""

    def __init__(self, inner: SpanExporter) -> None:
        self._inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([redact_span(span) for span in spans])

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
