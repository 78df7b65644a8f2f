"""What the webhook admin API takes and answers."""

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, model_validator

from shared.db.tables import WebhookAttemptRow, WebhookDeliveryRow, WebhookSubscriptionRow
from shared.domain import text
from shared.domain.events import EventType
from shared.domain.webhook_signing import secret_key
from shared.domain.webhook_urls import MAX_URL_CHARS
from shared.domain.webhooks import DeliveryState


def _secret_rule(value: str) -> str:
    secret_key(value)  # its ValueError is the 422's message
    return value


Secret = Annotated[
    str,
    StringConstraints(max_length=200),
    AfterValidator(_secret_rule),
    Field(description="`whsec_` and the base64 of 24 to 64 random bytes; write-only."),
]
Url = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_URL_CHARS),
    Field(description="https (http to loopback outside production); see the SSRF rule."),
]
Handles = Annotated[list[text.Handle], Field(max_length=100)]
EventTypes = Annotated[
    list[EventType], Field(max_length=len(EventType), description="Empty: every type.")
]
EventId = Annotated[str, StringConstraints(pattern=r"^\d{1,16}-\d{1,9}$")]


class WebhookCreate(text.InputModel):
    handle: text.Handle
    url: Url
    secret: Secret | None = Field(None, description="Generated (and answered once) if absent.")
    event_types: EventTypes = []
    departments: Handles = Field([], description="Only tickets of these (empty: all).")
    help_topics: Handles = Field([], description="Only tickets under these (empty: all).")
    include_internal: bool = Field(False, description="Internal notes too (`ticket.noted`).")
    active: bool = True
    from_: Literal["now", "beginning"] = Field(
        "now",
        alias="from",
        description="Deliver events published from now on, or the feed's whole history.",
    )


class WebhookUpdate(text.InputModel):
    url: Url | None = None
    secret: Secret | None = None
    rotate_secret: bool = Field(False, description="A new secret, answered once.")
    event_types: EventTypes | None = None
    departments: Handles | None = None
    help_topics: Handles | None = None
    include_internal: bool | None = None
    active: bool | None = Field(None, description="true re-enables a disabled subscription.")

    @model_validator(mode="after")
    def _one_secret(self) -> "WebhookUpdate":
        if self.secret is not None and self.rotate_secret:
            raise ValueError("give a secret or ask for a new one (rotate_secret), not both")
        return self


class WebhookRead(BaseModel):
    handle: str
    url: str
    event_types: list[EventType]
    departments: list[str]
    help_topics: list[str]
    include_internal: bool
    active: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    backlog: int = Field(description="Deliveries not yet delivered nor failed.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: WebhookSubscriptionRow, backlog: int) -> "WebhookRead":
        return cls(
            handle=row.handle,
            url=row.url,
            event_types=[EventType(t) for t in row.event_types],
            departments=row.departments,
            help_topics=row.help_topics,
            include_internal=row.include_internal,
            active=row.active,
            disabled_reason=row.disabled_reason,
            disabled_at=_maybe_utc(row.disabled_at),
            backlog=backlog,
            created_at=_utc(row.created_at),
            updated_at=_utc(row.updated_at),
        )


class WebhookCreated(WebhookRead):
    secret: str = Field(description="The signing secret: shown only here.")


class WebhookUpdated(WebhookRead):
    secret: str | None = Field(None, description="The new secret if `rotate_secret` was asked.")


class WebhookList(BaseModel):
    items: list[WebhookRead]


class AttemptRead(BaseModel):
    at: datetime
    status_code: int | None
    latency_ms: float | None
    error: str | None

    @classmethod
    def of(cls, row: WebhookAttemptRow) -> "AttemptRead":
        error = row.error if row.finished else "under way"
        return cls(
            at=_utc(row.at), status_code=row.status_code, latency_ms=row.latency_ms, error=error
        )


class DeliveryRead(BaseModel):
    id: int
    webhook_id: str
    event_id: str
    ticket: str
    type: str
    replay: bool
    status: DeliveryState
    attempts: list[AttemptRead]
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None = Field(
        description="While pending: when it may go (none: after its ticket's older events)."
    )
    created_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: WebhookDeliveryRow, attempts: list[WebhookAttemptRow]) -> "DeliveryRead":
        status = DeliveryState(row.status)
        return cls(
            id=row.id,
            webhook_id=row.webhook_id,
            event_id=row.event_id,
            ticket=row.ticket,
            type=row.type,
            replay=row.replay is not None,
            status=status,
            attempts=[AttemptRead.of(a) for a in attempts],
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            next_attempt_at=_maybe_utc(row.next_attempt_at)
            if status is DeliveryState.PENDING
            else None,
            created_at=_utc(row.created_at),
            finished_at=_maybe_utc(row.finished_at),
        )


class DeliveryPage(BaseModel):
    items: list[DeliveryRead]
    next_before: int | None = Field(description="Pass as `before` for the older ones.")


class ReplayRequest(text.InputModel):
    from_cursor: str | None = Field(
        None, max_length=64, description="A change-feed cursor: the events after it."
    )
    event_ids: list[EventId] | None = Field(None, min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _one_way(self) -> "ReplayRequest":
        if (self.from_cursor is None) == (self.event_ids is None):
            raise ValueError("give either from_cursor or event_ids")
        return self


class ReplayResult(BaseModel):
    queued: list[str] = Field(description="Event ids queued again, each with a new webhook-id.")
    skipped: list[str] = Field(description="Events these filters do not send to this webhook.")
    next_cursor: str | None = Field(
        description="More events remain after these: replay again from this cursor."
    )


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _maybe_utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else _utc(moment)
