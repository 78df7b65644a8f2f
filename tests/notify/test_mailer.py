"""The mailer on its own: message headers, the log channel, SMTP errors, the sink's CLI."""

import email
import hashlib
import logging
import subprocess
import sys
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from services.notify.mailer import (
    IDEMPOTENCY_HEADER,
    ChannelMailer,
    DeliveryError,
    OutgoingMail,
    Sender,
    build_message,
)
from services.processes import free_port
from shared.domain.enums import Channel
from shared.domain.mail.trust import is_keyed
from tests.notify.conftest import MailSink

SENDER = Sender(
    mail_from="helpdesk@ticketflow.test", reply_to="replies@ticketflow.test", secret_key="s" * 32
)
MAIL = OutgoingMail(
    idempotency_key="100001:1:ticket_received:requester",
    ticket="100001",
    channel=Channel.EMAIL,
    recipient_name="Müller, Anna",
    recipient_email="anna@example.com",
    subject="[#100001] Ihre Anfrage für uns ist eingegangen",
    body="Grüße\nline two",
)


def message_id(key: str, sender: Sender = SENDER) -> str:
    mail = OutgoingMail(**{**MAIL.__dict__, "idempotency_key": key})
    return str(build_message(mail, sender, datetime.now(UTC))["Message-ID"])


def test_message_id_is_stable_per_key_and_distinct_across_keys() -> None:
    first = message_id("k-1")
    assert first == message_id("k-1")
    assert first != message_id("k-2")
    assert first.startswith("<") and first.endswith("@ticketflow.test>")


def test_message_id_is_keyed_with_the_secret_not_computable_from_the_key() -> None:
    """The old id, sha256 of the key, was computable by anyone who knew how keys are built."""
    first = message_id("k-1")
    assert is_keyed(first, "k-1", secret_key=SENDER.secret_key)
    assert not is_keyed(first, "k-1", secret_key="t" * 32)
    assert first != message_id("k-1", Sender(SENDER.mail_from, SENDER.reply_to, "t" * 32))
    assert hashlib.sha256(b"k-1").hexdigest()[:40] not in first


def test_answers_go_to_the_reply_to_address() -> None:
    message = build_message(MAIL, SENDER, datetime.now(UTC))
    assert (message["From"], message["Reply-To"]) == (SENDER.mail_from, SENDER.reply_to)


def test_message_round_trips_non_ascii_names_and_subjects() -> None:
    raw = build_message(MAIL, SENDER, datetime.now(UTC)).as_bytes()
    parsed = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
    assert str(parsed["To"]) == '"Müller, Anna" <anna@example.com>'
    assert str(parsed["Subject"]) == MAIL.subject
    assert str(parsed[IDEMPOTENCY_HEADER]) == MAIL.idempotency_key
    assert parsed.get_content().strip() == MAIL.body


def test_log_channel_writes_a_log_line_only(caplog: pytest.LogCaptureFixture) -> None:
    mailer = ChannelMailer(host="127.0.0.1", port=free_port(), sender=SENDER)
    with caplog.at_level(logging.INFO, logger="ticketflow.notify"):
        mailer.deliver(OutgoingMail(**{**MAIL.__dict__, "channel": Channel.LOG}))
    assert MAIL.idempotency_key in caplog.text


def test_unreachable_smtp_server_raises_delivery_error() -> None:
    mailer = ChannelMailer(host="127.0.0.1", port=free_port(), sender=SENDER, timeout=2)
    with pytest.raises(DeliveryError, match="ConnectionRefusedError"):
        mailer.deliver(MAIL)


def test_mail_reaches_the_sink_as_eml(sink: MailSink) -> None:
    ChannelMailer(host="127.0.0.1", port=sink.port, sender=SENDER).deliver(MAIL)
    [eml] = sink.mails()
    assert eml.name.endswith("-1.eml")
    parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert str(parsed["Subject"]) == MAIL.subject


def test_mail_sink_runs_as_a_module(tmp_path: Path) -> None:
    port = free_port()
    directory = tmp_path / "mail"
    command = [sys.executable, "-m", "services.notify.mail_sink"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--dir", str(directory)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert "mail sink on" in process.stdout.readline()
        ChannelMailer(host="127.0.0.1", port=port, sender=SENDER).deliver(MAIL)
        deadline = time.monotonic() + 5
        while not list(directory.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(directory.glob("*.eml"))) == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()
