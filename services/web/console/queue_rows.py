"""A queue's rows: each ticket as the list API gives it, with its SLA and its last change
in words."""

from dataclasses import dataclass
from datetime import datetime

from services.web.api import ApiModel, Requester
from shared.domain.enums import Priority, TicketStatus


class QueueTicket(ApiModel):
    number: str
    subject: str
    status: TicketStatus
    priority: Priority
    requester: Requester
    help_topic: str
    department: str
    team: str | None
    assignee: str | None
    overdue: bool
    escalation_level: int = 0
    updated_at: datetime
    next_due_at: datetime | None = None
    breached_at: datetime | None = None
    sla_paused: bool = False


class QueuePage(ApiModel):
    items: list[QueueTicket]
    total: int


@dataclass(frozen=True)
class Sla:
    """A ticket's SLA as the queue shows it: words, and the time the script counts from."""

    words: str
    kind: str  # due | breached | paused | none
    at: datetime | None = None


def span(seconds: float) -> str:
    """A duration in words: "1 h 12 min", "45 min", "2 d 3 h", "under a minute"."""
    minutes = int(seconds // 60)
    if minutes < 1:
        return "under a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def sla_of(ticket: QueueTicket, now: datetime) -> Sla:
    if ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        return Sla("no clock running", "none")
    if ticket.breached_at is not None:
        since = span((now - ticket.breached_at).total_seconds())
        return Sla(f"breached {since} ago", "breached", ticket.breached_at)
    if ticket.next_due_at is not None:
        left = (ticket.next_due_at - now).total_seconds()
        words = f"due in {span(left)}" if left > 0 else "due now"
        return Sla(words, "due", ticket.next_due_at)
    if ticket.sla_paused:
        return Sla("paused", "paused")
    return Sla("no clock running", "none")


def ago(moment: datetime, now: datetime) -> str:
    seconds = (now - moment).total_seconds()
    return "just now" if seconds < 60 else f"{span(seconds)} ago"


@dataclass(frozen=True)
class Row:
    ticket: QueueTicket
    sla: Sla
    activity: str
