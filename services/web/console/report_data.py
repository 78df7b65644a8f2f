"""The reports as the API answers them (`/api/v1/reports`), read for the reports page, and
the period they cover."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from services.web.api import ApiError, IntakeApi
from services.web.console.agent import SignedIn

API = "/api/v1/reports"
PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
MAX_DAYS = 366  # the API's longest window


class Report(BaseModel):
    """What the page reads of a report: fields it does not show are ignored."""

    model_config = ConfigDict(extra="ignore")


class ClockStats(Report):
    median_s: float | None
    met: int
    late: int
    cancelled_breached: int
    compliance_pct: float | None

    @property
    def breached(self) -> int:
        return self.late + self.cancelled_breached


class Backlog(Report):
    under_1d: int = Field(alias="<1d")
    from_1d_to_3d: int = Field(alias="1-3d")
    from_3d_to_7d: int = Field(alias="3-7d")
    over_7d: int = Field(alias=">7d")


class SlaLine(Report):
    group: str | None
    first_response: ClockStats
    resolution: ClockStats
    backlog: Backlog


class SlaReport(Report):
    rows: list[SlaLine]
    totals: SlaLine


class AgentLine(Report):
    agent: str
    first_response_median_s: float | None
    resolution_median_s: float | None


class AgentReport(Report):
    rows: list[AgentLine]


class SatisfactionLine(Report):
    group: str | None
    good: int
    bad: int
    score: float | None


class RatingComment(Report):
    ticket: str
    rating: str
    at: datetime
    text: str


class SatisfactionReport(Report):
    rows: list[SatisfactionLine]
    comments: list[RatingComment]


R = TypeVar("R", bound=Report)
PATHS: dict[type[Report], str] = {
    SlaReport: "sla",
    AgentReport: "agents",
    SatisfactionReport: "satisfaction",
}


@dataclass(frozen=True)
class Window:
    """[start, end) in UTC; `days`: the preset chosen (None: two dates)."""

    start: datetime
    end: datetime
    days: int | None

    def params(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}

    @property
    def last_day(self) -> date:
        """The last day the window touches (its end is excluded)."""
        return (self.end - timedelta(microseconds=1)).date()


def choose_window(*, days: str, start: str, end: str, now: datetime) -> tuple[Window, str | None]:
    """Two dates (whole days in UTC, both included) win over a preset; no choice at all:
    the last DEFAULT_DAYS days up to now. A choice that cannot be one: its problem in words."""
    now = now.replace(microsecond=0)
    fallback = Window(now - timedelta(days=DEFAULT_DAYS), now, DEFAULT_DAYS)
    if start or end:
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(end)
        except ValueError:
            return fallback, "Give both dates, as year-month-day (2025-03-31)."
        if first > last:
            return fallback, "The first date is after the last one: swap them."
        if (last - first).days + 1 > MAX_DAYS:
            return fallback, f"A report covers at most {MAX_DAYS} days: choose a shorter period."
        begin = datetime.combine(first, time(), UTC)
        return Window(begin, datetime.combine(last + timedelta(days=1), time(), UTC), None), None
    if not days:
        return fallback, None
    if not days.isdigit() or int(days) not in PRESETS:
        return fallback, "Choose the last 7, 30 or 90 days, or two dates."
    return Window(now - timedelta(days=int(days)), now, int(days)), None


async def read_report(
    api: IntakeApi, agent: SignedIn, model: type[R], *, window: Window, by: str | None = None
) -> R | ApiError:
    """The report, read; or the ApiError that stands for it."""
    params = window.params() | ({"group_by": by} if by else {})
    path = f"{API}/{PATHS[model]}"
    try:
        answer = await api.call("GET", path, credential=agent.token, params=params)
        return model.model_validate(answer.json())
    except ApiError as err:
        return err
    except ValueError:  # not JSON, or not the report's shape: as good as no answer
        return ApiError(502, "the report's answer could not be read")
