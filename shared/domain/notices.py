"""How a notice reads: the one place where notification text is put together. Pure.

The lifecycle queues notices with a subject and an opening line; a notice may quote a message
of the thread. The requester's acknowledgement also explains how to follow the ticket; its
access token is added by the notify service at delivery, so it is never stored.
"""

from shared.domain.enums import NotificationKind, RecipientRole
from shared.domain.models import Notice
from shared.domain.text import bounded_key

FOLLOW_UP = (
    "To follow your ticket, or to add to it, use its number and the access token below "
    "with our API (the token is yours alone: do not share it). Reply to this ticket to add "
    "information."
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
