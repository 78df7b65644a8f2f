"""Inbound mail for tests: messages as mail clients and autoresponders write them."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime


def mail(
    *,
    sender: str,
    to: str = "support@ticketflow.test",
    subject: str = "Cannot log in",
    body: str = "Since this morning I cannot log in.",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    html: str | None = None,
    authentication_results: Sequence[str] = (),
) -> EmailMessage:
    """A message; `html` makes it HTML-only. `authentication_results` come first, topmost
    first, as MTAs add them above what a sender wrote."""
    message = EmailMessage()
    for value in authentication_results:
        message["Authentication-Results"] = value
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@client.test>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    if html is not None:
        message.set_content(html, subtype="html")
    else:
        message.set_content(body)
    return message
