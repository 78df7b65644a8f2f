"""The SMTP side of mail-in, as an MTA sees it: a recipient with no help topic is refused at
RCPT time, input that is no message is refused for good (5xx), and a database that is down
defers the message (4xx: the MTA keeps it and retries). Temporal is never reached here."""

import smtplib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from services.mail_in.processor import MailIn
from services.mail_in.smtp import InboundHandler
from services.processes import free_port
from services.tickets.service import Tickets
from shared.db.engine import make_engine, make_sessionmaker
from shared.settings import Settings
from shared.temporal.client import connect
from tests.builders import mail


async def listener(settings: Settings) -> AsyncIterator[int]:
    engine = make_engine(settings.database_url)
    client = await connect(settings, lazy=True)  # never used: nothing gets that far
    mail_in = MailIn(Tickets(client, make_sessionmaker(engine), settings))
    port = free_port()
    controller = Controller(
        InboundHandler(mail_in), hostname="127.0.0.1", port=port, server_hostname="test"
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()
        engine.dispose()


@pytest.fixture
async def strict_port(sqlite_url: str) -> AsyncIterator[int]:
    """Only mail to banking@ has a help topic: there is no default."""
    settings = Settings(
        database_url=sqlite_url,
        temporal_address=f"127.0.0.1:{free_port()}",
        mail_in_addresses={"banking@desk.test": "online-banking"},
        mail_in_default_topic=None,
    )
    async for port in listener(settings):
        yield port


@pytest.fixture
async def no_database_port(tmp_path: Path) -> AsyncIterator[int]:
    missing = tmp_path / "not-migrated.db"  # no tables: every statement fails
    settings = Settings(database_url=f"sqlite:///{missing}", temporal_address="127.0.0.1:1")
    async for port in listener(settings):
        yield port


def test_a_recipient_without_a_help_topic_is_refused_at_rcpt(strict_port: int) -> None:
    with smtplib.SMTP("127.0.0.1", strict_port, timeout=10) as smtp:
        smtp.ehlo()
        smtp.mail("alice@example.com")
        assert smtp.rcpt("nobody@desk.test")[0] == 550
        assert smtp.rcpt("Banking@Desk.test")[0] == 250


def test_input_that_is_no_message_is_refused_for_good(strict_port: int) -> None:
    with (
        smtplib.SMTP("127.0.0.1", strict_port, timeout=10) as smtp,
        pytest.raises(smtplib.SMTPDataError) as refused,
    ):
        smtp.sendmail("alice@example.com", ["banking@desk.test"], b"no headers at all\r\n")
    assert refused.value.smtp_code == 554


def test_a_database_that_is_down_defers_the_message(no_database_port: int) -> None:
    message = mail(sender="alice@example.com", to="support@desk.test")
    with (
        smtplib.SMTP("127.0.0.1", no_database_port, timeout=10) as smtp,
        pytest.raises(smtplib.SMTPDataError) as deferred,
    ):
        smtp.send_message(message)
    assert deferred.value.smtp_code == 451
