"""Mail that no person wrote: auto-replies, bounces, lists, and our own notifications coming
back. Such mail is recorded and never answered, so two machines cannot talk in a loop."""

from email.message import Message

from shared.domain.mail.addresses import NULL_SENDERS

# RFC 3834 and the headers autoresponders commonly set instead.
BULK_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
# Set on every notification notify sends (services/notify/mailer.py).
OWN_HEADER = "X-Ticketflow-Idempotency-Key"
BOUNCE_SENDERS = frozenset({"mailer-daemon"})


def auto_reply_reason(message: Message, envelope_sender: str | None, sender: str) -> str | None:
    """Why `message` (From `sender`) was sent by a machine and must not be answered, or None."""
    auto_submitted = _header(message, "Auto-Submitted")
    if auto_submitted is not None:
        value = auto_submitted.split(";", 1)[0].strip().lower()
        if value != "no":
            return f"Auto-Submitted: {value or '(empty)'}"
    precedence = _header(message, "Precedence")
    if precedence is not None and precedence.strip().lower() in BULK_PRECEDENCE:
        return f"Precedence: {precedence.strip().lower()}"
    for name in ("X-Autoreply", "X-Autorespond"):
        if _header(message, name) is not None:
            return f"{name} header"
    if message.get_content_type() == "multipart/report":
        return "delivery status report (multipart/report)"
    if envelope_sender is not None and envelope_sender.strip() in NULL_SENDERS:
        return "null return path (a bounce or notification)"
    return_path = _header(message, "Return-Path")
    if return_path is not None and return_path.strip() in NULL_SENDERS:
        return "null return path (a bounce or notification)"
    if sender.partition("@")[0].lower() in BOUNCE_SENDERS:
        return f"sent by {sender} (a bounce)"
    if _header(message, OWN_HEADER) is not None:
        return "one of ticketflow's own notifications"
    return None


def _header(message: Message, name: str) -> str | None:
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a header the parser cannot read: present
        return ""
    return None if value is None else str(value)
