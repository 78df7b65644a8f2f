"""How a notice reads: the one place where notification text is put together. Pure.

The lifecycle queues notices with the subject and opening line written here; a notice may
quote a message of the thread. Mails to the requester end with a link to the ticket's page in
the portal (`link_footer`), added by the notify service at delivery: the link carries a
signed credential, so it is never stored. Every subject carries "[#number]": answers by mail
find their ticket by it.
"""

from typing import NamedTuple

from shared.domain.enums import NotificationKind, RecipientRole
from shared.domain.models import ClockRun, Notice, TicketState
from shared.domain.text import bounded_key


class Wording(NamedTuple):
    subject: str
    body: str


def received(state: TicketState) -> Wording:
    return Wording(
        f"[#{state.number}] We received your request: {state.subject}",
        f"Your ticket {state.number} is open. We will reply as soon as we can.",
    )


def assigned(state: TicketState) -> Wording:
    """To its assignee, or (routed to a team) to the team's lead, who hands it out."""
    to = "Assigned to you" if state.assignee else "New ticket for your team"
    return Wording(
        f"[#{state.number}] {to}: {state.subject}",
        f"Ticket {state.number} ({state.priority.value}) needs your attention.",
    )


def transferred(state: TicketState, before: str) -> Wording:
    return Wording(
        f"[#{state.number}] Transferred to your department: {state.subject}",
        f"Ticket {state.number} was transferred from {before}.",
    )


def response(state: TicketState) -> Wording:
    """The response itself is quoted below."""
    return Wording(f"[#{state.number}] Re: {state.subject}", "")


def requester_replied(state: TicketState) -> Wording:
    """The message itself is quoted below."""
    return Wording(f"[#{state.number}] New message from {state.requester.name}", "")


def resolved(state: TicketState, *, with_message: bool) -> Wording:
    """`with_message`: the resolution message is quoted below."""
    opening = "" if with_message else "Your request has been resolved.\n"
    return Wording(
        f"[#{state.number}] Resolved: {state.subject}",
        opening + "Reply to this ticket if the problem is not solved.",
    )


def closed(state: TicketState) -> Wording:
    return Wording(
        f"[#{state.number}] Closed: {state.subject}", f"Ticket {state.number} is now closed."
    )


def ticket_link(state: TicketState) -> Wording:
    return Wording(
        f"[#{state.number}] Your link to ticket {state.number}: {state.subject}",
        "You asked for a link to your ticket. If you did not, you may ignore this mail.",
    )


def pending_reminder(state: TicketState) -> Wording:
    return Wording(
        f"[#{state.number}] No answer from the requester: {state.subject}",
        f"Ticket {state.number} has been waiting on {state.requester.name}.",
    )


def sla_warning(state: TicketState, run: ClockRun) -> Wording:
    label = run.clock.value.replace("_", " ")
    return Wording(
        f"[#{state.number}] {label} due soon: {state.subject}",
        f"Ticket {state.number} ({state.priority.value}) is due by "
        f"{run.due_at:%Y-%m-%d %H:%M} UTC.",
    )


def escalation(state: TicketState, run: ClockRun) -> Wording:
    label = run.clock.value.replace("_", " ")
    return Wording(
        f"[#{state.number}] Overdue ({label}), level {state.escalation_level}: {state.subject}",
        f"Ticket {state.number} ({state.priority.value}) missed its {label} target.",
    )


FOLLOW_UP = "Reply to this mail to add information, or follow your ticket at the link below."

# The requester's mails that end with a link to the ticket's page.
LINKED = frozenset(
    {
        NotificationKind.TICKET_RECEIVED,
        NotificationKind.RESPONSE,
        NotificationKind.RESOLVED,
        NotificationKind.CLOSED,
        NotificationKind.TICKET_LINK,
    }
)


def link_footer(kind: NotificationKind, number: str, url: str, expires: str) -> str:
    """The end of a requester's mail: the ticket's page (`url`, valid until `expires`)."""
    if kind is NotificationKind.CLOSED:
        opening = f"How did we do? Rate ticket {number}, good or bad, in one click:"
    else:
        opening = f"See ticket {number}, reply or add files:"
    return (
        f"{opening}\n{url}\n\nThis link is for you alone (do not forward it); it opens this "
        f'ticket until {expires}. For a fresh one, use "Check a ticket\'s status" on our '
        "support site."
    )


# Below every mail to agents about a ticket: answering it from their mail client works, since
# it proves who they are (shared.domain.mail.trust).
ANSWER_BY_MAIL = (
    "Reply to this mail to answer the requester; begin your reply with #note to add an "
    "internal note instead."
)

# What the system sends of itself, not carrying a person's words: marked Auto-Submitted
# (RFC 3834) so that other help desks' autoresponders do not answer. A response, a resolution
# and a closing carry an agent's action, and the requester is meant to answer them.
AUTOMATIC = frozenset(
    {
        NotificationKind.TICKET_RECEIVED,
        NotificationKind.ASSIGNED,
        NotificationKind.TRANSFERRED,
        NotificationKind.ESCALATION,
        NotificationKind.SLA_WARNING,
        NotificationKind.PENDING_REMINDER,
        NotificationKind.REQUESTER_REPLIED,
        NotificationKind.TICKET_LINK,
    }
)


def is_automatic(kind: NotificationKind) -> bool:
    return kind in AUTOMATIC


def render_body(notice: Notice, quoted: str | None) -> str:
    """The body of `notice`, quoting the thread message it refers to (if any)."""
    parts = [part for part in (quoted, notice.body) if part]
    if notice.kind is NotificationKind.TICKET_RECEIVED:
        parts.append(FOLLOW_UP)
    elif notice.recipient.role is not RecipientRole.REQUESTER:
        parts.append(ANSWER_BY_MAIL)
    return "\n\n".join(parts)


def notification_key(number: str, notice: Notice, email: str) -> str:
    """One key per ticket event, kind and recipient: the same person never gets it twice."""
    return bounded_key(number, str(notice.event_seq), notice.kind.value, email.lower())
