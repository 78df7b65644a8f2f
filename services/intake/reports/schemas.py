"""Report parameters (query strings) and report bodies."""

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.domain.enums import Rating

MAX_SPAN = timedelta(days=366)


class GroupBy(StrEnum):
    TEAM = "team"
    AGENT = "agent"  # the assignee dimension
    DEPARTMENT = "department"
    HELP_TOPIC = "help_topic"
    PRIORITY = "priority"


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


class WindowQuery(BaseModel):
    """A half-open window [from, to) of at most 366 days; a time without offset is UTC."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    format: ReportFormat = ReportFormat.JSON

    @field_validator("from_", "to")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        # SQLite stores times without their offset, as UTC: compare in UTC everywhere.
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _ordered_and_bounded(self) -> Self:
        if self.from_ >= self.to:
            raise ValueError("'from' must be before 'to'")
        if self.to - self.from_ > MAX_SPAN:
            raise ValueError("a report covers at most 366 days")
        return self


class SlaQuery(WindowQuery):
    group_by: GroupBy = GroupBy.TEAM


class ClockStats(BaseModel):
    """One SLA clock's runs stopped in the window."""

    count: int = Field(description="met or late runs with a business time")
    median_s: float | None = Field(description="median business seconds of those runs")
    p90_s: float | None
    met: int
    late: int
    cancelled_breached: int = Field(description="runs cancelled after their breach")
    compliance_pct: float | None = Field(
        description="100 * met / (met + late + cancelled_breached); null when that is 0"
    )


class Backlog(BaseModel):
    """Open and pending tickets created before `to`, by age at `to`: [0,1d), [1d,3d), …"""

    under_1d: int = Field(serialization_alias="<1d")
    from_1d_to_3d: int = Field(serialization_alias="1-3d")
    from_3d_to_7d: int = Field(serialization_alias="3-7d")
    over_7d: int = Field(serialization_alias=">7d")


class SlaLine(BaseModel):
    group: str | None = Field(description="the dimension's value; null: none (e.g. no team)")
    opened: int
    resolved: int
    closed: int = Field(description="closed and auto-closed")
    reopened: int
    overdue: int = Field(description="open or pending tickets overdue now")
    first_response: ClockStats
    next_response: ClockStats
    resolution: ClockStats
    backlog: Backlog


class SlaReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(serialization_alias="from")
    to: datetime
    group_by: GroupBy
    rows: list[SlaLine]
    totals: SlaLine


class AgentLine(BaseModel):
    agent: str
    assigned: int
    responded: int
    resolved: int
    first_response_median_s: float | None
    resolution_median_s: float | None
    breaches: int


class AgentReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(serialization_alias="from")
    to: datetime
    rows: list[AgentLine]


class SatisfactionGroupBy(StrEnum):
    TEAM = "team"
    AGENT = "agent"  # the assignee when the ticket was rated
    HELP_TOPIC = "help_topic"


class SatisfactionQuery(WindowQuery):
    group_by: SatisfactionGroupBy = SatisfactionGroupBy.TEAM


class SatisfactionLine(BaseModel):
    group: str | None  # null: tickets of no team (or no assignee)
    rated: int
    good: int
    bad: int
    score: float | None  # good / rated; null when nothing was rated


class RatingComment(BaseModel):
    ticket: str
    rating: Rating
    at: datetime
    text: str


class SatisfactionReport(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(serialization_alias="from")
    to: datetime
    group_by: SatisfactionGroupBy
    rows: list[SatisfactionLine]
    total: SatisfactionLine
    # The latest comments of the window (at most 100), newest first.
    comments: list[RatingComment]
