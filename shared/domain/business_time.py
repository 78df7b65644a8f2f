"""Business-hours calendar for SLA due times. Pure: no I/O, no clock; callers pass datetimes.

Opening hours are local wall-clock times in the schedule's IANA zone; elapsed time is real (UTC)
time. A wall time is turned into an instant by one rule that never runs backwards:
- an ambiguous wall time (the repeated hour when clocks go back) means its first occurrence
  (`fold=0`), so 09:00-17:00 across a fall-back is an hour longer in real time;
- a nonexistent wall time (skipped when clocks go forward) means the instant of the jump, so
  01:30-03:00 on a London spring-forward day opens at 02:00 BST and lasts one real hour.
Intervals are half-open: open at their start, closed at their end.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, field_serializer, field_validator, model_validator

_DAY = timedelta(days=1)
_SECOND = timedelta(seconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIDNIGHT = time(0, 0)


def _clock_time(value: object) -> object:
    # YAML 1.1 reads an unquoted 17:00 as the integer 1020, which pydantic would accept as
    # seconds; refuse anything but a string or a time so that mistake cannot slip through.
    if isinstance(value, time | str):
        return value
    raise ValueError("a time of day must be a string such as '09:00' (quote it in YAML)")


class OpeningInterval(BaseModel):
    """Open from `start` to `end` local time; an `end` of 00:00 (or "24:00") means midnight."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time

    @field_validator("start", mode="before")
    @classmethod
    def _parse_start(cls, value: object) -> object:
        return _clock_time(value)

    @field_validator("end", mode="before")
    @classmethod
    def _parse_end(cls, value: object) -> object:
        if value in ("24:00", "24:00:00"):
            return _MIDNIGHT
        return _clock_time(value)

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("opening times are local wall times; give them without an offset")
        if self.end != _MIDNIGHT and self.start >= self.end:
            raise ValueError(f"opening interval must start before it ends: {self.start}-{self.end}")
        return self

    @field_serializer("end")
    def _dump_end(self, value: time) -> str:
        return "24:00:00" if value == _MIDNIGHT else value.isoformat()

    def offsets(self) -> tuple[timedelta, timedelta]:
        """Start and end as offsets from the day's midnight (the end may be a whole day)."""
        return _since_midnight(self.start), _since_midnight(self.end) or _DAY


def _since_midnight(value: time) -> timedelta:
    return timedelta(
        hours=value.hour, minutes=value.minute, seconds=value.second, microseconds=value.microsecond
    )


class MonthDay(BaseModel):
    """A holiday on the same date every year; 29 February applies in leap years only."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    month: int
    day: int

    @model_validator(mode="after")
    def _check(self) -> Self:
        date(2000, self.month, self.day)  # a leap year, so 29 February is accepted
        return self


class Schedule(BaseModel):
    """Weekly opening hours (0 = Monday ... 6 = Sunday) in one zone, minus holidays."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timezone: str
    hours: dict[int, list[OpeningInterval]]
    holidays: list[date] = []
    yearly_holidays: list[MonthDay] = []

    @classmethod
    def always(cls) -> "Schedule":
        """Open around the clock, every day, in UTC."""
        all_day = [OpeningInterval(start=_MIDNIGHT, end=_MIDNIGHT)]
        return cls(timezone="UTC", hours={day: list(all_day) for day in range(7)})

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown IANA time zone: {value!r}") from error
        return value

    @field_validator("hours")
    @classmethod
    def _valid_week(
        cls, value: dict[int, list[OpeningInterval]]
    ) -> dict[int, list[OpeningInterval]]:
        week: dict[int, list[OpeningInterval]] = {}
        for weekday, intervals in sorted(value.items()):
            if not 0 <= weekday <= 6:
                raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), not {weekday}")
            ordered = sorted(intervals, key=lambda interval: interval.start)
            for earlier, later in pairwise(ordered):
                if earlier.offsets()[1] > later.offsets()[0]:
                    raise ValueError(f"opening intervals overlap on weekday {weekday}")
            week[weekday] = ordered
        return week


class _Calendar:
    """A schedule compiled for lookups; rebuilt per call so it can never go stale."""

    def __init__(self, schedule: Schedule) -> None:
        self.zone = ZoneInfo(schedule.timezone)
        self.week = [
            [interval.offsets() for interval in schedule.hours.get(weekday, [])]
            for weekday in range(7)
        ]
        self.holidays = frozenset(schedule.holidays)
        self.yearly = frozenset((entry.month, entry.day) for entry in schedule.yearly_holidays)
        # Some weekday has hours and some calendar date is not a yearly holiday: that date falls
        # on that weekday within a few decades, so a forward search is bound to end.
        self.ever_open = any(self.week) and len(self.yearly) < 366

    def local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def day_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's opening intervals as UTC instants, empty ones (inside a DST gap) dropped."""
        if day in self.holidays or (day.month, day.day) in self.yearly:
            return []
        midnight = datetime.combine(day, _MIDNIGHT)
        spans = []
        for start, end in self.week[day.weekday()]:
            opens, closes = self.instant(midnight + start), self.instant(midnight + end)
            if opens < closes:
                spans.append((opens, closes))
        return spans

    def instant(self, wall: datetime) -> datetime:
        """The UTC instant of a naive local wall time, by the rule in the module docstring."""
        first = wall.replace(tzinfo=self.zone).astimezone(UTC)
        if first.astimezone(self.zone).replace(tzinfo=None) == wall:
            return first
        other = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        return self._transition(min(first, other), max(first, other))

    def _transition(self, before: datetime, after: datetime) -> datetime:
        # zoneinfo exposes no transition list, so bisect whole seconds (tz data has no finer
        # resolution) between an instant on each side of the jump.
        low = (before - _EPOCH) // _SECOND
        high = -((_EPOCH - after) // _SECOND)
        offset_before = self._offset(low)
        while high - low > 1:
            middle = (low + high) // 2
            if self._offset(middle) == offset_before:
                low = middle
            else:
                high = middle
        return _EPOCH + high * _SECOND

    def _offset(self, seconds: int) -> timedelta | None:
        return (_EPOCH + seconds * _SECOND).astimezone(self.zone).utcoffset()

    def intervals_from(self, at: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals, in order, clipped to begin no earlier than `at`; endless."""
        if not self.ever_open:
            raise ValueError("schedule has no open hours at all")
        try:
            # Earlier days' intervals end by the first instant the clock shows this date.
            day = self.local_date(at)
            while True:
                for opens, closes in self.day_intervals(day):
                    if closes > at:
                        yield max(opens, at), closes
                day += _DAY
        except OverflowError as error:
            raise ValueError("no opening before the end of the supported calendar") from error

    def intervals_between(
        self, start: datetime, end: datetime
    ) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals clipped to [start, end); finite even when the schedule never opens."""
        # The day after `end`'s date too: were the clocks to go back across midnight, an instant
        # still dated today can lie after tomorrow's first midnight, in tomorrow's interval.
        day, last = self.local_date(start), self.local_date(end) + _DAY
        while day <= last:
            for opens, closes in self.day_intervals(day):
                if closes > start and opens < end:
                    yield max(opens, start), min(closes, end)
            day += _DAY


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware: {value!r}")
    return value.astimezone(UTC)


def add_business_time(schedule: Schedule, start: datetime, duration: timedelta) -> datetime:
    """The UTC instant at which `duration` of open time has elapsed, counting from `start`.

    A due time that uses up an interval exactly is that interval's closing instant, not the
    next opening. A zero duration gives `next_open(schedule, start)`.
    """
    if duration < timedelta(0):
        raise ValueError(f"duration must not be negative: {duration}")
    remaining = duration
    for opens, closes in _Calendar(schedule).intervals_from(_utc(start, "start")):
        if remaining <= closes - opens:
            return opens + remaining
        remaining -= closes - opens
    raise AssertionError("unreachable: intervals_from never ends")


def business_time_between(schedule: Schedule, start: datetime, end: datetime) -> timedelta:
    """Open time within [start, end); zero when `end` is not after `start`."""
    start, end = _utc(start, "start"), _utc(end, "end")
    if end <= start:
        return timedelta(0)
    spans = _Calendar(schedule).intervals_between(start, end)
    return sum((closes - opens for opens, closes in spans), timedelta(0))


def next_open(schedule: Schedule, at: datetime) -> datetime:
    """The earliest UTC instant at or after `at` when the schedule is open."""
    for opens, _ in _Calendar(schedule).intervals_from(_utc(at, "at")):
        return opens
    raise AssertionError("unreachable: intervals_from never ends")


def is_open(schedule: Schedule, at: datetime) -> bool:
    """Whether `at` lies inside an opening interval (closing instants are closed)."""
    at = _utc(at, "at")
    spans = _Calendar(schedule).intervals_between(at, at + timedelta(microseconds=1))
    return any(True for _ in spans)
