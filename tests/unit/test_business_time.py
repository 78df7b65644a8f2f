"""Business-hours arithmetic: worked examples, DST days, and properties against a brute force."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.domain.business_time import (
    MonthDay,
    OpeningInterval,
    Schedule,
    add_business_time,
    business_time_between,
    is_open,
    next_open,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)
MICROSECOND = timedelta(microseconds=1)


def hours(start: str, end: str) -> OpeningInterval:
    return OpeningInterval.model_validate({"start": start, "end": end})


def weekdays(zone: str, *intervals: OpeningInterval, **extra: object) -> Schedule:
    week = {day: list(intervals) for day in range(5)}
    return Schedule.model_validate({"timezone": zone, "hours": week, **extra})


OFFICE = weekdays("Europe/London", hours("09:00", "17:00"))
FRIDAY_4PM = datetime(2024, 3, 1, 16, 0, tzinfo=LONDON)


# --- worked examples ---------------------------------------------------------------------------


def test_friday_afternoon_carries_over_the_weekend() -> None:
    # One hour on Friday (16-17), the rest from Monday 09:00.
    due = add_business_time(OFFICE, FRIDAY_4PM, timedelta(hours=4))
    assert due == datetime(2024, 3, 4, 12, 0, tzinfo=LONDON)
    assert due.tzinfo is UTC
    assert add_business_time(OFFICE, FRIDAY_4PM, timedelta(hours=3)) == datetime(
        2024, 3, 4, 11, 0, tzinfo=LONDON
    )


def test_holiday_monday_pushes_the_due_time_to_tuesday() -> None:
    schedule = OFFICE.model_copy(update={"holidays": [date(2024, 3, 4)]})
    due = add_business_time(schedule, FRIDAY_4PM, timedelta(hours=3))
    assert due == datetime(2024, 3, 5, 11, 0, tzinfo=LONDON)


@pytest.mark.parametrize("year", [2024, 2025, 2030, 2041])
def test_yearly_holiday_is_closed_in_every_year(year: int) -> None:
    schedule = OFFICE.model_copy(update={"yearly_holidays": [MonthDay(month=12, day=25)]})
    start = datetime(year, 12, 24, 16, 0, tzinfo=LONDON)
    assert not is_open(schedule, datetime(year, 12, 25, 12, 0, tzinfo=LONDON))
    due = add_business_time(schedule, start, timedelta(hours=2))
    assert due == datetime(year, 12, 26, 10, 0, tzinfo=LONDON)


def test_lunch_break_is_not_counted() -> None:
    schedule = weekdays("Europe/London", hours("13:00", "17:00"), hours("09:00", "12:00"))
    monday = datetime(2024, 3, 4, tzinfo=LONDON)
    due = add_business_time(schedule, monday + timedelta(hours=11), timedelta(hours=2))
    assert due == monday + timedelta(hours=14)
    during_lunch = monday + timedelta(hours=12, minutes=30)
    assert not is_open(schedule, during_lunch)
    assert next_open(schedule, during_lunch) == monday + timedelta(hours=13)
    assert add_business_time(schedule, during_lunch, timedelta(0)) == monday + timedelta(hours=13)
    assert business_time_between(schedule, monday, monday + timedelta(days=1)) == timedelta(hours=7)


def test_due_time_that_uses_up_an_interval_is_its_closing_instant() -> None:
    due = add_business_time(OFFICE, FRIDAY_4PM, timedelta(hours=1))
    assert due == datetime(2024, 3, 1, 17, 0, tzinfo=LONDON)
    assert not is_open(OFFICE, due)


def test_zero_duration_while_open_is_the_start_itself() -> None:
    assert add_business_time(OFFICE, FRIDAY_4PM, timedelta(0)) == FRIDAY_4PM


@given(
    start=st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.just(UTC)),
    duration=st.timedeltas(timedelta(0), timedelta(days=400)),
)
@settings(max_examples=50, deadline=None)
def test_always_open_schedule_is_plain_addition(start: datetime, duration: timedelta) -> None:
    always = Schedule.always()
    assert add_business_time(always, start, duration) == start + duration
    assert business_time_between(always, start, start + duration) == duration


def test_thirty_business_days_are_eighteen_working_weeks() -> None:
    # 720 h at 8 h a day is 90 days; spring-forward is on a (closed) Sunday, so it changes
    # nothing here: the due time is 17:00 local in BST.
    start = datetime(2024, 1, 1, 9, 0, tzinfo=LONDON)
    due = add_business_time(OFFICE, start, timedelta(days=30))
    assert due == datetime(2024, 5, 3, 17, 0, tzinfo=LONDON)
    assert due == datetime(2024, 5, 3, 16, 0, tzinfo=UTC)


def test_working_week_spanning_spring_forward_keeps_local_hours() -> None:
    # Europe/London went from GMT to BST on Sunday 31 March 2024.
    start = datetime(2024, 3, 29, 16, 0, tzinfo=LONDON)
    due = add_business_time(OFFICE, start, timedelta(hours=4))
    assert due == datetime(2024, 4, 1, 11, 0, tzinfo=UTC)  # 12:00 BST


def test_spring_forward_shortens_an_interval_over_the_skipped_hour() -> None:
    # London, Sunday 31 March 2024: 01:00 GMT is followed by 02:00 BST (01:00 UTC).
    schedule = Schedule.model_validate(
        {"timezone": "Europe/London", "hours": {6: [{"start": "00:00", "end": "06:00"}]}}
    )
    day = datetime(2024, 3, 31, tzinfo=UTC)
    assert business_time_between(schedule, day, day + timedelta(days=1)) == timedelta(hours=5)
    # 00:00-01:00 GMT is one hour, then one more from 02:00 BST: 03:00 BST, 02:00 UTC.
    assert add_business_time(schedule, day, timedelta(hours=2)) == day + timedelta(hours=2)


def test_interval_opening_inside_the_skipped_hour_opens_at_the_jump() -> None:
    schedule = Schedule.model_validate(
        {"timezone": "America/New_York", "hours": {6: [{"start": "02:30", "end": "04:00"}]}}
    )
    # New York, Sunday 10 March 2024: 02:00 EST became 03:00 EDT at 07:00 UTC.
    saturday = datetime(2024, 3, 9, 12, 0, tzinfo=UTC)
    assert next_open(schedule, saturday) == datetime(2024, 3, 10, 7, 0, tzinfo=UTC)
    sunday = datetime(2024, 3, 10, tzinfo=NEW_YORK)
    assert business_time_between(schedule, sunday, sunday + timedelta(days=1)) == timedelta(hours=1)


def test_interval_wholly_inside_the_skipped_hour_does_not_open_that_day() -> None:
    schedule = Schedule.model_validate(
        {"timezone": "America/New_York", "hours": {6: [{"start": "02:00", "end": "02:45"}]}}
    )
    saturday = datetime(2024, 3, 9, 12, 0, tzinfo=UTC)
    assert next_open(schedule, saturday) == datetime(2024, 3, 17, 2, 0, tzinfo=NEW_YORK)


def test_fall_back_lengthens_an_interval_over_the_repeated_hour() -> None:
    # New York, Sunday 3 November 2024: 02:00 EDT became 01:00 EST at 06:00 UTC.
    schedule = Schedule.model_validate(
        {"timezone": "America/New_York", "hours": {6: [{"start": "00:00", "end": "04:00"}]}}
    )
    start = datetime(2024, 11, 3, 4, 0, tzinfo=UTC)  # 00:00 EDT
    assert business_time_between(schedule, start, start + timedelta(days=1)) == timedelta(hours=5)
    # 00:00-02:00 EDT, then 01:00-02:00 EST: 02:00 EST is 07:00 UTC.
    due = add_business_time(schedule, start, timedelta(hours=3))
    assert due == datetime(2024, 11, 3, 7, 0, tzinfo=UTC)


def test_ambiguous_boundaries_mean_the_first_occurrence() -> None:
    schedule = Schedule.model_validate(
        {"timezone": "America/New_York", "hours": {6: [{"start": "01:30", "end": "03:00"}]}}
    )
    start = datetime(2024, 11, 2, 12, 0, tzinfo=UTC)
    assert next_open(schedule, start) == datetime(2024, 11, 3, 5, 30, tzinfo=UTC)  # 01:30 EDT
    span = business_time_between(schedule, start, start + timedelta(days=2))
    assert span == timedelta(hours=2, minutes=30)


def test_inputs_in_any_zone_give_utc_results() -> None:
    due = add_business_time(OFFICE, FRIDAY_4PM.astimezone(NEW_YORK), timedelta(hours=3))
    assert due == datetime(2024, 3, 4, 11, 0, tzinfo=UTC)
    assert due.tzinfo is UTC


# --- rejections --------------------------------------------------------------------------------


def test_naive_datetimes_are_rejected() -> None:
    naive = datetime(2024, 3, 1, 16, 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        add_business_time(OFFICE, naive, timedelta(hours=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        business_time_between(OFFICE, FRIDAY_4PM, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        is_open(OFFICE, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        next_open(OFFICE, naive)


def test_negative_duration_is_rejected() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_business_time(OFFICE, FRIDAY_4PM, -MINUTE)


@pytest.mark.parametrize(
    "schedule",
    [
        Schedule(timezone="UTC", hours={}),
        Schedule(timezone="UTC", hours={0: []}),
        Schedule.always().model_copy(
            update={
                "yearly_holidays": [
                    MonthDay(month=day.month, day=day.day)
                    for day in (date(2024, 1, 1) + timedelta(days=n) for n in range(366))
                ]
            }
        ),
    ],
    ids=["no-hours", "empty-day", "every-date-a-holiday"],
)
def test_schedule_that_never_opens_fails_clearly(schedule: Schedule) -> None:
    with pytest.raises(ValueError, match="no open hours"):
        add_business_time(schedule, FRIDAY_4PM, timedelta(hours=1))
    with pytest.raises(ValueError, match="no open hours"):
        next_open(schedule, FRIDAY_4PM)
    assert not is_open(schedule, FRIDAY_4PM)
    assert business_time_between(schedule, FRIDAY_4PM, FRIDAY_4PM + timedelta(days=9)) == (
        timedelta(0)
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"timezone": "Mars/Olympus", "hours": {}}, "unknown IANA time zone"),
        ({"timezone": "UTC", "hours": {7: []}}, "weekday must be 0"),
        (
            {"timezone": "UTC", "hours": {0: [{"start": "17:00", "end": "09:00"}]}},
            "must start before it ends",
        ),
        (
            {"timezone": "UTC", "hours": {0: [{"start": "09:00", "end": "09:00"}]}},
            "must start before it ends",
        ),
        (
            {
                "timezone": "UTC",
                "hours": {
                    0: [{"start": "12:00", "end": "24:00"}, {"start": "09:00", "end": "13:00"}]
                },
            },
            "overlap",
        ),
        ({"timezone": "UTC", "hours": {0: [{"start": 540, "end": 1020}]}}, "quote it in YAML"),
        (
            {"timezone": "UTC", "hours": {0: [{"start": "09:00+01:00", "end": "17:00"}]}},
            "without an offset",
        ),
        ({"timezone": "UTC", "hours": {}, "yearly_holidays": [{"month": 2, "day": 30}]}, "day"),
        ({"timezone": "UTC", "hours": {}, "weekly": {}}, "Extra inputs"),
    ],
)
def test_invalid_schedules_are_rejected(data: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Schedule.model_validate(data)


def test_schedule_round_trips_through_json_with_24_00_for_midnight() -> None:
    schedule = weekdays(
        "Europe/Berlin",
        hours("18:00", "24:00"),
        hours("08:00", "12:00"),
        holidays=["2024-12-31"],
        yearly_holidays=[{"month": 12, "day": 25}],
    )
    dumped = schedule.model_dump(mode="json")
    assert dumped["hours"]["0"] == [
        {"start": "08:00:00", "end": "12:00:00"},
        {"start": "18:00:00", "end": "24:00:00"},
    ]
    assert dumped["holidays"] == ["2024-12-31"]
    assert dumped["yearly_holidays"] == [{"month": 12, "day": 25}]
    assert Schedule.model_validate_json(schedule.model_dump_json()) == schedule
    assert Schedule.model_validate(dumped) == schedule


# --- properties --------------------------------------------------------------------------------

# UTC, the two zones of the examples, a 30-minute DST shift at 02:00 (Lord Howe), transitions at
# local midnight (Santiago), and a quarter-hour offset with no DST (Kathmandu).
ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kathmandu",
]
FIRST, LAST = datetime(2023, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
PROPERTY = settings(max_examples=100, deadline=None)


def _offset(zone: ZoneInfo, at: datetime) -> timedelta | None:
    return at.astimezone(zone).utcoffset()


def _transitions(zone: ZoneInfo) -> list[datetime]:
    """Every offset change between FIRST and LAST, to the microsecond."""
    found = []
    day = FIRST
    while day < LAST:
        low, high = day, day + timedelta(days=1)
        if _offset(zone, low) != _offset(zone, high):
            while high - low > MICROSECOND:
                middle = low + (high - low) // 2
                if _offset(zone, middle) == _offset(zone, low):
                    low = middle
                else:
                    high = middle
            found.append(high)
        day += timedelta(days=1)
    return found


TRANSITIONS = {name: _transitions(ZoneInfo(name)) for name in ZONES}


def _clock(minutes: int) -> time:
    return time(0, 0) if minutes == 24 * 60 else time(minutes // 60, minutes % 60)


# Interval boundaries anywhere, or in the small hours and late evening where DST jumps happen.
_POINT = st.one_of(st.integers(0, 24 * 60), st.integers(0, 4 * 60), st.integers(22 * 60, 24 * 60))
_HOLIDAYS = st.lists(st.dates(FIRST.date(), LAST.date()), max_size=4)
_YEARLY = st.lists(st.dates().map(lambda day: MonthDay(month=day.month, day=day.day)), max_size=3)


def _intervals(points: list[int]) -> list[OpeningInterval]:
    """Consecutive pairs of sorted minutes; equal neighbours touch (allowed) or vanish."""
    points = sorted(points)
    return [
        OpeningInterval(start=_clock(start), end=_clock(end))
        for start, end in zip(points[::2], points[1::2], strict=True)
        if start < end
    ]


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    """1-3 intervals on minute boundaries on each of some weekdays, in a zone from ZONES."""
    week = {
        weekday: _intervals(draw(_points(_POINT)))
        for weekday in draw(st.sets(st.integers(0, 6), min_size=1))
    }
    assume(any(week.values()))
    return Schedule(
        timezone=draw(st.sampled_from(ZONES)),
        hours=week,
        holidays=draw(_HOLIDAYS),
        yearly_holidays=draw(_YEARLY),
    )


def _points(minute: st.SearchStrategy[int]) -> st.SearchStrategy[list[int]]:
    """Boundaries for one to three intervals."""
    return st.integers(1, 3).flatmap(
        lambda count: st.lists(minute, min_size=2 * count, max_size=2 * count)
    )


@st.composite
def starts(draw: st.DrawFn, schedule: Schedule, whole_minutes: bool = False) -> datetime:
    """Anywhere in a few years, or from two days before to hours after a DST transition."""
    near = TRANSITIONS[schedule.timezone]
    if draw(st.booleans()) and near:
        base = draw(st.sampled_from(near)) - timedelta(days=2)
        span = timedelta(days=2, hours=6)
    else:
        base, span = FIRST, LAST - FIRST - timedelta(days=60)
    unit = MINUTE if whole_minutes else timedelta(seconds=1)
    return base + draw(st.integers(0, span // unit)) * unit


def durations(schedule: Schedule) -> st.SearchStrategy[timedelta]:
    """Up to two weeks, and at most four weeks' opening hours: a schedule open one minute a
    week would otherwise walk centuries of calendar per example."""
    weekly = business_time_between(schedule, FIRST, FIRST + timedelta(days=7))
    return st.timedeltas(timedelta(0), min(timedelta(days=14), 4 * weekly))


@given(data=st.data(), schedule=schedules())
@PROPERTY
def test_due_time_is_open_or_the_close_of_the_last_interval_used(
    data: st.DataObject, schedule: Schedule
) -> None:
    start, duration = data.draw(starts(schedule)), data.draw(durations(schedule))
    due = add_business_time(schedule, start, duration)
    assert due >= start
    assert due.tzinfo is UTC
    if duration:
        assert is_open(schedule, due - MICROSECOND)
    else:
        assert is_open(schedule, due)
        assert due == next_open(schedule, start)


@given(
    data=st.data(),
    schedule=schedules(),
    later=st.timedeltas(timedelta(0), timedelta(days=3)),
)
@PROPERTY
def test_due_time_is_monotonic_in_duration_and_start(
    data: st.DataObject, schedule: Schedule, later: timedelta
) -> None:
    start = data.draw(starts(schedule))
    short, long = sorted(data.draw(durations(schedule)) for _ in range(2))
    assert add_business_time(schedule, start, short) <= add_business_time(schedule, start, long)
    assert add_business_time(schedule, start, short) <= add_business_time(
        schedule, start + later, short
    )


@given(data=st.data(), schedule=schedules())
@PROPERTY
def test_business_time_between_inverts_add(data: st.DataObject, schedule: Schedule) -> None:
    start, duration = data.draw(starts(schedule)), data.draw(durations(schedule))
    due = add_business_time(schedule, start, duration)
    assert business_time_between(schedule, start, due) == duration
    assert business_time_between(schedule, start, next_open(schedule, start)) == timedelta(0)
    assert business_time_between(schedule, due, start) == timedelta(0)


class _WallClock:
    """An independent oracle: open iff the latest wall time the clock has shown is in hours.

    Using the latest wall time shown so far (rather than the current one) is exactly "an
    ambiguous time means its first occurrence, a skipped time means the jump".
    """

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.zone = ZoneInfo(schedule.timezone)
        self.yearly = {(entry.month, entry.day) for entry in schedule.yearly_holidays}

    def wall(self, at: datetime) -> datetime:
        return at.astimezone(self.zone).replace(tzinfo=None)

    def latest_shown(self, at: datetime) -> datetime:
        # No zone in ZONES sets its clock back by more than an hour.
        return max(self.wall(at - n * MINUTE) for n in range(121))

    def open_at(self, shown: datetime) -> bool:
        day, now = shown.date(), shown.time()
        if day in self.schedule.holidays or (day.month, day.day) in self.yearly:
            return False
        return any(
            interval.start <= now and (interval.end == time(0, 0) or now < interval.end)
            for interval in self.schedule.hours.get(day.weekday(), [])
        )

    def add_minutes(self, start: datetime, minutes: int) -> datetime:
        shown, at = self.latest_shown(start), start
        while True:
            shown = max(shown, self.wall(at))
            if self.open_at(shown):
                if minutes == 0:
                    return at
                minutes -= 1
                if minutes == 0:
                    return at + MINUTE
            at += MINUTE


@given(data=st.data(), schedule=schedules())
@settings(max_examples=60, deadline=None)
def test_fast_addition_agrees_with_a_minute_by_minute_walk(
    data: st.DataObject, schedule: Schedule
) -> None:
    start = data.draw(starts(schedule, whole_minutes=True))
    weekly = business_time_between(schedule, FIRST, FIRST + timedelta(days=7)) // MINUTE
    # Bounded by a week and a half of opening hours so the walk stays short for sparse schedules.
    minutes = data.draw(st.integers(0, min(3 * 24 * 60, weekly * 3 // 2)))
    expected = _WallClock(schedule).add_minutes(start, minutes)
    assert add_business_time(schedule, start, minutes * MINUTE) == expected


@given(data=st.data(), schedule=schedules())
@PROPERTY
def test_is_open_agrees_with_the_wall_clock(data: st.DataObject, schedule: Schedule) -> None:
    at = data.draw(starts(schedule))
    clock = _WallClock(schedule)
    assert is_open(schedule, at) == clock.open_at(clock.latest_shown(at))


@st.composite
def around_a_jump(draw: st.DrawFn) -> tuple[Schedule, datetime]:
    """A DST transition, and a schedule with boundaries near the wall times either side of it."""
    name = draw(st.sampled_from([name for name in ZONES if TRANSITIONS[name]]))
    jump = draw(st.sampled_from(TRANSITIONS[name]))
    centres: dict[int, list[int]] = {}
    for side in (jump - MICROSECOND, jump):
        wall = side.astimezone(ZoneInfo(name))
        centres.setdefault(wall.weekday(), []).append(wall.hour * 60 + wall.minute)
    week = {}
    for weekday, minutes in centres.items():
        near = st.one_of([st.integers(max(0, m - 90), min(24 * 60, m + 90)) for m in minutes])
        week[weekday] = _intervals(draw(_points(near | _POINT)))
    assume(any(week.values()))
    return Schedule(timezone=name, hours=week), jump


@given(data=st.data(), case=around_a_jump())
@settings(max_examples=100, deadline=None)
def test_dst_days_agree_with_the_wall_clock_minute_by_minute(
    data: st.DataObject, case: tuple[Schedule, datetime]
) -> None:
    schedule, jump = case
    clock = _WallClock(schedule)
    start, end = jump - timedelta(hours=12), jump + timedelta(hours=12)
    minutes = [start + n * MINUTE for n in range((end - start) // MINUTE)]
    shown = clock.latest_shown(start)
    expected_open = []
    for at in minutes:
        shown = max(shown, clock.wall(at))
        expected_open.append(clock.open_at(shown))

    assert business_time_between(schedule, start, end) == sum(expected_open) * MINUTE
    window = range(len(minutes) // 2 - 90, len(minutes) // 2 + 90)
    assert [is_open(schedule, minutes[n]) for n in window] == [expected_open[n] for n in window]

    first = data.draw(st.integers(0, len(minutes) - 1))
    open_after = [n for n in range(first, len(minutes)) if expected_open[n]]
    assume(open_after)
    assert next_open(schedule, minutes[first]) == minutes[open_after[0]]
    count = data.draw(st.integers(0, len(open_after)))
    due = minutes[open_after[0]] if count == 0 else minutes[open_after[count - 1]] + MINUTE
    assert add_business_time(schedule, minutes[first], count * MINUTE) == due
