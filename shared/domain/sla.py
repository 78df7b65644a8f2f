"""SLA arithmetic: targets per priority and ISO-8601 durations. Pure, no I/O."""

from datetime import timedelta

from pydantic import TypeAdapter

from shared.domain.enums import Priority
from shared.domain.models import SlaPlanSnapshot

_DURATION = TypeAdapter(timedelta)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO-8601 duration such as `PT4H` or `P1DT30M`."""
    value = _DURATION.validate_python(text)
    if value <= timedelta(0):
        raise ValueError(f"duration must be positive: {text!r}")
    return value


def format_duration(value: timedelta) -> str:
    return str(_DURATION.dump_python(value, mode="json"))


def first_response_target(plan: SlaPlanSnapshot, priority: Priority) -> timedelta:
    override = plan.by_priority.get(priority)
    if override is not None and override.first_response is not None:
        return override.first_response
    return plan.first_response


def resolution_target(plan: SlaPlanSnapshot, priority: Priority) -> timedelta:
    override = plan.by_priority.get(priority)
    if override is not None and override.resolution is not None:
        return override.resolution
    return plan.resolution
