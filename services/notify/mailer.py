"""Delivery of one notification: email over SMTP, or a log line."""

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

from shared.domain.enums import Channel
from shared.domain.mail.trust import keyed_message_id
from shared.domain.text import TextError, mail_address, scrub
from shared.settings import Settings

log = logging.getLogger("ticketflow.notify")

IDEMPOTENCY_HEADER = "X-Ticketflow-Idempotency-Key"
# RFC 3834: mail no person wrote, which autoresponders must not answer; Exchange reads the
# second header instead.
AUTOMATIC_HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
# Folding at 78 columns drops a space between RFC 2047 encoded words (a CPython bug), which
# garbles long non-ASCII subjects; 998 is RFC 5322's hard limit and folds only when needed.
MAIL_POLICY = policy.default.clone(max_line_length=998)


class DeliveryError(Exception):
    """The message could not be handed over; the caller may try again later."""


@dataclass(frozen=True)
class OutgoingMail:
    idempotency_key: str
    ticket: str
    channel: Channel
    recipient_name: str
    recipient_email: str
    subject: str
    body: str
    # Sent by the system of itself (an acknowledgement, an escalation), not a person's words.
    automatic: bool = False


class Mailer(Protocol):
    def deliver(self, mail: OutgoingMail) -> str | None:
        """Hand the mail over and answer its Message-ID (None for a log line), or raise
        DeliveryError."""


@dataclass(frozen=True)
class Sender:
    """Who our mail comes from, where answers to it go, and the secret its ids are keyed with."""

    mail_from: str
    reply_to: str
    secret_key: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "Sender":
        return cls(
            mail_from=settings.mail_from,
            reply_to=settings.mail_reply_to or settings.mail_from,
            secret_key=settings.secret_key,
        )


def build_message(mail: OutgoingMail, sender: Sender, now: datetime) -> EmailMessage:
    """The message to send. Header values are scrubbed to one line whatever was stored (intake
    refuses such input, older records may predate that), and the policy encodes non-ASCII
    headers (RFC 2047, or raw UTF-8 when smtplib sends with SMTPUTF8).

    Its Message-ID is keyed with the secret: an answer naming it proves that its writer
    received this mail (mail-in lets an agent act by mail only so), and a resent mail keeps it.
    """
    local, domain = recipient_address(mail.recipient_email)
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = sender.mail_from
    message["Reply-To"] = sender.reply_to
    message["To"] = Address(
        display_name=_header(mail.recipient_name), username=local, domain=domain
    )
    message["Subject"] = _header(mail.subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = keyed_message_id(
        mail.idempotency_key, secret_key=sender.secret_key, mail_from=sender.mail_from
    )
    message[IDEMPOTENCY_HEADER] = _header(mail.idempotency_key)
    message["X-Ticketflow-Ticket"] = _header(mail.ticket)
    if mail.automatic:
        for name, value in AUTOMATIC_HEADERS.items():
            message[name] = value
    message.set_content(scrub(mail.body, multiline=True))
    return message


def recipient_address(email: str) -> tuple[str, str]:
    """Local part and IDNA domain: only a non-ASCII local part then needs SMTPUTF8."""
    try:
        return mail_address(email)
    except TextError as err:
        raise DeliveryError(f"recipient address {err}") from err


def _header(value: str) -> str:
    return scrub(value, multiline=False)


class ChannelMailer:
    """Delivers by channel: `email` through an SMTP server, `log` as a log line only."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: Sender,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._starttls = starttls
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> "ChannelMailer":
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=Sender.from_settings(settings),
            username=settings.smtp_username,
            password=settings.smtp_password,
            starttls=settings.smtp_starttls,
        )

    def deliver(self, mail: OutgoingMail) -> str | None:
        if mail.channel is Channel.LOG:
            log.info(
                "notification %s for ticket %s to %s: %s",
                mail.idempotency_key,
                mail.ticket,
                mail.recipient_email,
                mail.subject,
            )
            return None
        message = build_message(mail, self._sender, datetime.now(UTC))
        local, domain = recipient_address(mail.recipient_email)
        try:
            self._send(message, f"{local}@{domain}")
        except (smtplib.SMTPException, OSError) as err:
            raise DeliveryError(f"{type(err).__name__}: {err}") from err
        return str(message["Message-ID"])

    def _send(self, message: EmailMessage, recipient: str) -> None:
        # The envelope names the one recipient, never addresses read back from headers. With a
        # non-ASCII address smtplib itself adds SMTPUTF8 (and fails if the server lacks it).
        with smtplib.SMTP(self._host, self._port, timeout=self._timeout) as smtp:
            if self._starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self._username:
                smtp.login(self._username, self._password or "")
            smtp.send_message(message, to_addrs=[recipient])
