"""The mail notify writes: SMTPUTF8 for a non-ASCII local part, IDNA for a non-ASCII domain,
long subjects and multi-line bodies intact, and no header injection even from a record that
predates intake's text rules."""

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from services.notify.mailer import (
    MAIL_POLICY,
    ChannelMailer,
    DeliveryError,
    OutgoingMail,
    Sender,
    build_message,
)
from services.processes import free_port
from shared.domain import text
from shared.domain.enums import Channel


def parsed(raw: bytes) -> EmailMessage:
    """The headers as a reader sees them (raw UTF-8 too, as SMTPUTF8 sends them)."""
    text = raw.decode("utf-8").replace("\r\n", "\n")
    message = email.message_from_string(text, _class=EmailMessage, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def content(raw: bytes) -> str:
    """The body as a reader sees it, line ends as "\n"."""
    message = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body: str = message.get_content()
    return body.replace("\r\n", "\n")


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    smtp_utf8: bool
    content: bytes


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps the envelope too, to see who a mail really went to."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(
            Received(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                smtp_utf8=bool(envelope.smtp_utf8),
                content=envelope.original_content or b"",
            )
        )
        return "250 OK"


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, ChannelMailer]]:
    handler = Recorder()
    port = free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        server_hostname="recorder",
        enable_SMTPUTF8=True,
    )
    controller.start()
    yield handler, ChannelMailer(host="127.0.0.1", port=port, sender=SENDER)
    controller.stop()


SENDER = Sender(mail_from="helpdesk@t.test", reply_to="helpdesk@t.test", secret_key="s" * 32)
MAIL = OutgoingMail(
    idempotency_key="100001:1:ticket_received",
    ticket="100001",
    channel=Channel.EMAIL,
    recipient_name="Anna",
    recipient_email="anna@example.com",
    subject="[#100001] We received your request",
    body="Thanks",
)
EXPECTED_HEADERS = {
    "from",
    "reply-to",
    "to",
    "subject",
    "date",
    "message-id",
    "x-ticketflow-idempotency-key",
    "x-ticketflow-ticket",
    "content-type",
    "content-transfer-encoding",
    "mime-version",
}


def test_a_subject_with_crlf_bcc_cannot_add_a_header_and_is_still_delivered(
    recorder: tuple[Recorder, ChannelMailer],
) -> None:
    handler, mailer = recorder
    # As a record written before the rules could hold it: intake now refuses these.
    mail = replace(
        MAIL,
        subject="Hello\r\nBcc: evil@example.com",
        recipient_name="Anna\r\nBcc: evil2@example.com",
        idempotency_key="k\nBcc: evil3@example.com",
        ticket="100001\r\nX-Evil: 1",
        body="one\x00two\x0bthree\n\tfour\r\nfive",
    )
    mailer.deliver(mail)
    [received] = handler.received
    assert received.rcpt_tos == ["anna@example.com"]
    head, _, _ = received.content.partition(b"\r\n\r\n")
    assert b"\x00" not in head and b"\x0b" not in head
    names = {
        line.split(b":")[0].decode().lower() for line in head.split(b"\r\n") if line[:1] > b" "
    }
    assert names <= EXPECTED_HEADERS, names
    message = parsed(received.content)
    assert "Bcc" not in message and "X-Evil" not in message
    assert str(message["Subject"]) == "Hello  Bcc: evil@example.com"
    assert message["To"].addresses[0].display_name == "Anna  Bcc: evil2@example.com"
    assert content(received.content) == "one\ufffdtwo\ufffdthree\n\tfour\nfive\n"


def test_smtputf8_is_used_only_for_a_non_ascii_local_part(
    recorder: tuple[Recorder, ChannelMailer],
) -> None:
    handler, mailer = recorder
    mailer.deliver(replace(MAIL, recipient_email="jürgen@example.com", subject="Grüße"))
    mailer.deliver(replace(MAIL, recipient_email="user@bücher.example", subject="Grüße"))
    intl, idn = handler.received
    assert (intl.rcpt_tos, intl.smtp_utf8) == (["jürgen@example.com"], True)
    assert (idn.rcpt_tos, idn.smtp_utf8) == (["user@xn--bcher-kva.example"], False)
    idn.content.decode("ascii")
    assert str(parsed(idn.content)["Subject"]) == "Grüße"


def test_long_subjects_and_multi_line_bodies_arrive_intact(
    recorder: tuple[Recorder, ChannelMailer],
) -> None:
    handler, mailer = recorder
    subject = "[#123456789012] We received your request: " + "Grüße " * 42
    body = "Schritte:\n\t1. öffnen\r\n\t2. schließen\n\n— Jürgen"
    mailer.deliver(replace(MAIL, subject=subject, body=body))
    [received] = handler.received
    assert str(parsed(received.content)["Subject"]) == subject
    assert content(received.content) == body.replace("\r\n", "\n") + "\n"


def test_a_stored_address_that_breaks_the_rules_is_a_delivery_error(
    recorder: tuple[Recorder, ChannelMailer],
) -> None:
    handler, mailer = recorder
    with pytest.raises(DeliveryError, match="recipient address"):
        mailer.deliver(replace(MAIL, recipient_email="a..b@example.com"))
    assert handler.received == []


SUBJECTS = TypeAdapter(text.MailSubject)


@settings(max_examples=300)
@given(st.text(min_size=1, max_size=text.MAIL_SUBJECT_MAX))
def test_every_accepted_subject_reads_back_as_sent(subject: str) -> None:
    try:
        SUBJECTS.validate_python(subject)
    except ValidationError:
        return
    message = build_message(replace(MAIL, subject=subject), SENDER, datetime.now(UTC))
    for raw in (message.as_bytes(), message.as_bytes(policy=MAIL_POLICY.clone(utf8=True))):
        assert max(len(line) for line in raw.split(b"\n")) <= 998
        # A reader drops the spaces that lead a header value, and nothing else.
        assert str(parsed(raw)["Subject"]) == subject.lstrip(" ")


NAMES = TypeAdapter(text.Name)


@settings(max_examples=200)
@given(st.text(min_size=1, max_size=text.NAME_MAX))
def test_no_accepted_name_adds_or_changes_a_recipient(name: str) -> None:
    try:
        NAMES.validate_python(name)
    except ValidationError:
        return
    mail = replace(MAIL, recipient_name=name)
    message = build_message(mail, SENDER, datetime.now(UTC))
    for raw in (message.as_bytes(), message.as_bytes(policy=MAIL_POLICY.clone(utf8=True))):
        [address] = parsed(raw)["To"].addresses
        assert address.addr_spec == "anna@example.com"
