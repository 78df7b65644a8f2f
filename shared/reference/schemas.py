"""Reference data as it is written and read: one set of models for the admin API and the
config file, so both accept exactly the same input."""

import re
from datetime import date, time, timedelta
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from shared.domain import text
from shared.domain.business_time import MonthDay, OpeningInterval, Schedule
from shared.domain.enums import Priority, Role, SlaClock
from shared.domain.models import Ladder
from shared.domain.sla import format_duration, parse_duration

HANDLE_PATTERN = text.HANDLE_PATTERN
# Longer targets could only be typos, and would overflow the due-time arithmetic.
MAX_DURATION = timedelta(days=3650)
# What a help topic tells requesters: a sentence or two beside its name (one line), and what
# to put in a ticket of it (a few lines).
DESCRIPTION_MAX = 500
INSTRUCTIONS_MAX = 2_000
# The ISO-8601 shape, checked before parsing: pydantic would also take "3600" or "1 day".
_ISO_DURATION = re.compile(
    r"P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
)


def _duration(text: str) -> str:
    """Accept a positive ISO-8601 duration and store its canonical form ("PT90M" -> "PT1H30M")."""
    if not _ISO_DURATION.fullmatch(text):
        raise ValueError(f"{text!r} is not an ISO-8601 duration such as PT4H or P1D")
    try:
        value = parse_duration(text)
    except ValueError as err:
        raise ValueError(f"{text!r} is not a positive duration") from err
    return format_duration(_at_most_max(value))


def _at_most_max(value: timedelta) -> timedelta:
    if value > MAX_DURATION:
        raise ValueError(f"a duration may be at most {format_duration(MAX_DURATION)} (ten years)")
    return value


def _ladder_input(value: Any) -> Any:
    """Ladder durations in the same ISO-8601 form as every other duration (pydantic alone
    would also take 3600 or "1 day"); zero is allowed for a step at the breach. Step names
    follow the rules of every other name (`Ladder` itself takes any string)."""
    if not isinstance(value, dict):
        return value
    steps = [s for s in value.get("steps") or [] if isinstance(s, dict)]
    durations = [value.get("repeat_every"), *(s.get("after_breach") for s in steps)]
    for duration in durations:
        if duration is not None and not (
            isinstance(duration, str) and _ISO_DURATION.fullmatch(duration)
        ):
            raise ValueError(f"{duration!r} is not an ISO-8601 duration such as PT1H or PT0S")
    for step in steps:
        name = step.get("name")
        if isinstance(name, str):
            problem = text.input_text_problem(name, multiline=False)
            if problem is None and not name.strip():
                problem = "may not be empty"
            if problem is None and len(name.strip()) > text.NAME_MAX:
                problem = f"should have at most {text.NAME_MAX} characters"
            if problem is not None:
                raise ValueError(f"step name {problem}")
    return value


def _checked_ladder(ladder: Ladder) -> Ladder:
    if ladder.repeat_every is not None and ladder.repeat_every <= timedelta(0):
        raise ValueError("repeat_every must be positive")
    for duration in [ladder.repeat_every, *(step.after_breach for step in ladder.steps)]:
        if duration is not None:
            _at_most_max(duration)
    return ladder


_INT = TypeAdapter(int)
_MONTH_DAY_RANGES = {"month": (1, 12), "day": (1, 31)}


def _month_day_in_range(value: Any) -> Any:
    """Month 1-12 and day 1-31 before `MonthDay` builds a date (a huge month overflows)."""
    if isinstance(value, dict):
        for field, (low, high) in _MONTH_DAY_RANGES.items():
            try:
                number = _INT.validate_python(value.get(field))
            except ValidationError:
                continue  # MonthDay reports what is wrong with it
            if not low <= number <= high:
                raise ValueError(f"{field} must be from {low} to {high}")
    return value


def _text_rules(*, multiline: bool) -> BeforeValidator:
    """The character rules of every other free text (shared.domain.text), for the texts
    below, whose lengths are their own."""

    def check(value: Any) -> Any:
        if isinstance(value, str):
            problem = text.input_text_problem(value, multiline=multiline)
            if problem is not None:
                raise PydanticCustomError("text_characters", "{problem}", {"problem": problem})
        return value

    return BeforeValidator(check)


Handle = text.Handle
Name = text.Name
Email = text.Email
# Pydantic runs the escape first, then the rules, then the constraints (as in text).
Description = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=DESCRIPTION_MAX),
    _text_rules(multiline=False),
    BeforeValidator(text.escape_unencodable),
]
Instructions = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=INSTRUCTIONS_MAX),
    _text_rules(multiline=True),
    BeforeValidator(text.escape_unencodable),
]
Duration = Annotated[str, AfterValidator(_duration)]
SlaLadder = Annotated[Ladder, BeforeValidator(_ladder_input), AfterValidator(_checked_ladder)]
YearlyHoliday = Annotated[MonthDay, BeforeValidator(_month_day_in_range)]


class Strict(text.InputModel):
    """A request body (or config file entry): unknown fields and bad text are refused."""


class Patch(Strict):
    """A partial update: a field left out stays as it is; null is accepted only by the fields
    in NULLABLE, where it clears the value."""

    NULLABLE: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_nulls(self) -> Self:
        nulls = sorted(
            name for name in self.model_fields_set - self.NULLABLE if getattr(self, name) is None
        )
        if nulls:
            raise ValueError(f"may not be null: {', '.join(nulls)}")
        return self


class AgentCreate(Strict):
    handle: Handle
    name: Name
    email: Email
    role: Role
    teams: list[Handle] = []


class AgentUpdate(Patch):
    name: Name | None = None
    email: Email | None = None
    role: Role | None = None
    teams: list[Handle] | None = None
    active: bool | None = None
    rotate_token: bool = False


class AgentRead(BaseModel):
    handle: str
    name: str
    email: str
    role: Role
    active: bool
    teams: list[str]


class ScheduleCreate(Schedule, text.InputModel):
    """Business hours: a handle and a name beside the fields of `Schedule`, which validates
    them (known time zone, no overlapping intervals, times of day given as strings)."""

    handle: Handle
    name: Name
    yearly_holidays: list[YearlyHoliday] = []


class ScheduleUpdate(Patch):
    """Stated fields replace the stored ones; the result is validated as a whole `Schedule`."""

    name: Name | None = None
    timezone: str | None = None
    hours: dict[int, list[OpeningInterval]] | None = None
    holidays: list[date] | None = None
    yearly_holidays: list[YearlyHoliday] | None = None


class ScheduleRead(BaseModel):
    handle: str
    name: str
    timezone: str
    hours: dict[int, list[OpeningInterval]]
    holidays: list[date]
    yearly_holidays: list[MonthDay]

    @field_serializer("hours", when_used="json")
    def _hours_as_written(
        self, hours: dict[int, list[OpeningInterval]]
    ) -> dict[int, list[dict[str, str]]]:
        """Times of day as they are written: "09:00" (not "09:00:00"), "24:00" for midnight."""

        def written(at: time) -> str:
            return at.isoformat("minutes" if at.second == at.microsecond == 0 else "auto")

        return {
            day: [
                {"start": written(i.start), "end": "24:00" if i.end == time(0) else written(i.end)}
                for i in intervals
            ]
            for day, intervals in hours.items()
        }


class DepartmentCreate(Strict):
    handle: Handle
    name: Name
    manager: Handle
    # Business hours of the department's tickets, winning over their SLA plan's.
    schedule: Handle | None = None


class DepartmentUpdate(Patch):
    NULLABLE = frozenset({"schedule"})

    name: Name | None = None
    manager: Handle | None = None
    schedule: Handle | None = None


class DepartmentRead(BaseModel):
    handle: str
    name: str
    manager: str | None
    schedule: str | None


class TeamCreate(Strict):
    handle: Handle
    name: Name
    lead: Handle
    members: list[Handle] = []


class TeamUpdate(Patch):
    name: Name | None = None
    lead: Handle | None = None
    members: list[Handle] | None = None


class TeamRead(BaseModel):
    handle: str
    name: str
    lead: str | None
    members: list[str]


class SlaOverride(Strict):
    """Targets for one priority that differ from the plan's defaults."""

    first_response: Duration | None = None
    resolution: Duration | None = None


class SlaPlanCreate(Strict):
    handle: Handle
    name: Name
    first_response: Duration
    resolution: Duration
    auto_close: Duration
    by_priority: dict[Priority, SlaOverride] = {}
    # Target for each agent response after a requester reply; None: no such clock.
    next_response: Duration | None = None
    # Business hours the targets count in when the department has none; None: 24/7.
    schedule: Handle | None = None
    ladders: dict[SlaClock, SlaLadder] = {}


class SlaPlanUpdate(Patch):
    NULLABLE = frozenset({"next_response", "schedule", "ladders"})

    name: Name | None = None
    first_response: Duration | None = None
    resolution: Duration | None = None
    auto_close: Duration | None = None
    by_priority: dict[Priority, SlaOverride] | None = None
    next_response: Duration | None = None
    schedule: Handle | None = None
    # null (like {}) removes every ladder: each clock escalates by the default ladder.
    ladders: dict[SlaClock, SlaLadder] | None = None


class SlaPlanRead(BaseModel):
    handle: str
    name: str
    first_response: str
    resolution: str
    auto_close: str
    by_priority: dict[Priority, SlaOverride]
    next_response: str | None
    schedule: str | None
    ladders: dict[SlaClock, Ladder]


class HelpTopicCreate(Strict):
    handle: Handle
    name: Name
    department: Handle
    sla_plan: Handle
    priority: Priority = Priority.NORMAL
    team: Handle | None = None
    agent: Handle | None = None
    # Shown to requesters: beside the name on the support center; beside the topic's choice
    # on a new ticket, what to tell us ("the time it started and the error shown").
    description: Description | None = None
    instructions: Instructions | None = None
    # Inactive: offered to no one, and a new ticket under it is refused as under an unknown
    # topic; its tickets go on as before.
    active: bool = True


class HelpTopicUpdate(Patch):
    NULLABLE = frozenset({"team", "agent", "description", "instructions"})

    name: Name | None = None
    department: Handle | None = None
    sla_plan: Handle | None = None
    priority: Priority | None = None
    team: Handle | None = None
    agent: Handle | None = None
    description: Description | None = None
    instructions: Instructions | None = None
    active: bool | None = None


class HelpTopicRead(BaseModel):
    handle: str
    name: str
    department: str
    sla_plan: str
    priority: Priority
    team: str | None
    agent: str | None
    description: str | None
    instructions: str | None
    active: bool
