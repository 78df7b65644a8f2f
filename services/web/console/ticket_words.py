"""The ticket page's states and times in words; static/console-ticket.js says the times the
same way as they tick on."""

from datetime import UTC, datetime

from services.web.console.ticket_data import Clock
from shared.domain.enums import ClockOutcome, SlaClock, TicketStatus

STATUS_WORDS = {
    TicketStatus.OPEN: "Open",
    TicketStatus.PENDING: "Pending: waiting on the requester",
    TicketStatus.RESOLVED: "Resolved",
    TicketStatus.CLOSED: "Closed",
}
CLOCK_WORDS = {
    SlaClock.FIRST_RESPONSE: "First response",
    SlaClock.NEXT_RESPONSE: "Next response",
    SlaClock.RESOLUTION: "Resolution",
}


def span(seconds: float) -> str:
    minutes = int(max(seconds, 0) // 60)
    if minutes < 1:
        return "less than a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def ago(moment: datetime, now: datetime) -> str:
    seconds = (now - moment).total_seconds()
    return "just now" if seconds < 60 else f"{span(seconds)} ago"


def exact(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%-d %b %Y, %H:%M:%S UTC")


def clock_words(clock: Clock, now: datetime) -> str:
    if clock.outcome is not ClockOutcome.RUNNING:
        return {ClockOutcome.MET: "met", ClockOutcome.LATE: "met late"}.get(
            clock.outcome, "cancelled"
        )
    if clock.paused:
        return "paused"
    left = (clock.due_at - now).total_seconds()
    return f"due in {span(left)}" if left > 0 else f"breached {span(-left)} ago"
