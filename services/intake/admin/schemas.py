"""Answers of the admin API beyond the shared reference models."""

from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from shared.db.api_keys import utc
from shared.domain import text
from shared.domain.audit import AuditAction, AuditEntity
from shared.domain.enums import ActorKind
from shared.domain.scopes import Scope
from shared.reference.schemas import AgentRead, Strict

Item = TypeVar("Item", bound=BaseModel)


class ItemList(BaseModel, Generic[Item]):
    items: list[Item]


class AgentCreated(AgentRead):
    token: str = Field(
        description="The bearer token: shown only here, since just its hash is kept."
    )


class AgentUpdated(AgentRead):
    token: str | None = Field(None, description="The new token if `rotate_token` was asked.")


class ApiKeyCreate(Strict):
    """A service account: a name to recognise it by (on ticket timelines too), what it may do,
    and optionally until when."""

    name: text.Name
    scopes: list[Scope] = Field(min_length=1, max_length=len(Scope))
    expires_at: AwareDatetime | None = None

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value <= datetime.now(UTC):
            raise ValueError("expires_at must be in the future")
        # In UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts (+19:50).
        try:
            return value.astimezone(UTC)
        except OverflowError as err:  # 9999-12-31T23:00-05:00 is past year 9999 in UTC
            raise ValueError("expires_at is too far in the future") from err


class ApiKeyRead(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The secret's first characters, to recognise the key by")
    scopes: list[Scope]
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = Field(
        description="When the key was last used (to the minute: noted at most once a minute)"
    )
    active: bool = Field(description="Neither revoked nor expired")

    @field_validator("created_at", "expires_at", "revoked_at", "last_used_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return utc(value)


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(
        description="The secret (tfk_…), sent as `Authorization: Bearer …`: shown only here, "
        "since just its hash is kept."
    )


class AuditActorRead(BaseModel):
    kind: ActorKind
    name: str
    handle: str | None


class AuditEntryRead(BaseModel):
    id: int
    at: datetime
    actor: AuditActorRead
    action: AuditAction
    entity: str = Field(description="agent, team, department, help_topic, sla_plan, …")
    entity_id: str
    summary: str
    changes: dict[str, list[Any]] = Field(description="field -> [before, after]")

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class AuditPage(BaseModel):
    items: list[AuditEntryRead]
    total: int
    page: int
    per_page: int


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entity: AuditEntity | None = Field(None, description="Only changes of this kind of record")
    entity_id: text.Name | None = Field(None, description="Only changes of this record")
    page: int = Field(1, ge=1, le=10_000)
    per_page: int = Field(50, ge=1, le=200)
