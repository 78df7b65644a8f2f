"""The mailer on its own: message headers, the log channel, SMTP errors, the sink's CLI."""

import email
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
    build_message,
    message_id,
)
from shared.domain.enums import Channel
from tests.notify.conftest import MailSink, free_port

MAIL = OutgoingMail(
    idempotency_key="100001:1:ticket_received:requester",
    ticket="100001",
    channel=Channel.EMAIL,
    recipient_name="Müller, Anna",
    recipient_email="anna@example.com",
    subject="[#100001] Ihre Anfrage für uns ist eingegangen",
    body="Grüße\nline two",
)


def test_message_id_is_stable_per_key_and_distinct_across_keys() -> None:
    first = message_id("k-1", "helpdesk@ticketflow.test")
    assert first == message_id("k-1", "helpdesk@ticketflow.test")
    assert first != message_id("k-2", "helpdesk@ticketflow.test")
    assert first.startswith("<") and first.endswith("@ticketflow.test>")


def test_message_round_trips_non_ascii_names_and_subjects() -> None:
    raw = build_message(MAIL, "helpdesk@ticketflow.test", datetime.now(UTC)).as_bytes()
    parsed = email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)
    assert str(parsed["To"]) == '"Müller, Anna" <anna@example.com>'
    assert str(parsed["Subject"]) == MAIL.subject
    assert str(parsed[IDEMPOTENCY_HEADER]) == MAIL.idempotency_key
    assert parsed.get_content().strip() == MAIL.body


def test_log_channel_writes_a_log_line_only(caplog: pytest.LogCaptureFixture) -> None:
    mailer = ChannelMailer(host="127.0.0.1", port=free_port(), mail_from="h@t.test")
    with caplog.at_level(logging.INFO, logger="ticketflow.notify"):
        mailer.deliver(OutgoingMail(**{**MAIL.__dict__, "channel": Channel.LOG}))
    assert MAIL.idempotency_key in caplog.text


def test_unreachable_smtp_server_raises_delivery_error() -> None:
    mailer = ChannelMailer(host="127.0.0.1", port=free_port(), mail_from="h@t.test", timeout=2)
    with pytest.raises(DeliveryError, match="ConnectionRefusedError"):
        mailer.deliver(MAIL)


def test_mail_reaches_the_sink_as_eml(sink: MailSink) -> None:
    ChannelMailer(host="127.0.0.1", port=sink.port, mail_from="h@t.test").deliver(MAIL)
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
        ChannelMailer(host="127.0.0.1", port=port, mail_from="h@t.test").deliver(MAIL)
        deadline = time.monotonic() + 5
        while not list(directory.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(directory.glob("*.eml"))) == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stdout is not None
        process.stdout.close()
