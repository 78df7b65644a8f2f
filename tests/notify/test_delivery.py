"""The outbox's delivery through the real SMTP sink: what the workflows queued is mailed once,
retried after failures, given up after a day, and never sent twice by concurrent passes."""

import email
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.message import Message

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from services.notify.mailer import IDEMPOTENCY_HEADER, ChannelMailer
from services.notify.outbox import deliver_due
from services.notify.outbox_lease import ATTEMPT_LEASE, claim_attempt
from shared.access import invite_token, link_credential_valid, requester_token
from shared.db import invites
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import NotificationRow
from shared.domain.enums import DeliveryStatus
from shared.domain.mail.trust import keyed_message_id
from shared.settings import Settings
from tests.notify.builders import notification, queue, stored
from tests.notify.conftest import MailSink


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def deliver(sessions: sessionmaker[Session], settings: Settings) -> int:
    """One pass of the outbox's loop, with the mailer the service builds from its settings."""
    return deliver_due(sessions, ChannelMailer.from_settings(settings), settings)


def mails(sink: MailSink) -> list[Message]:
    return [email.message_from_bytes(eml.read_bytes()) for eml in sink.mails()]


def set_columns(settings: Settings, key: str, **values: object) -> None:
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(NotificationRow)
                .where(NotificationRow.idempotency_key == key)
                .values(**values)
            )
    finally:
        engine.dispose()


def test_a_queued_notification_is_delivered_as_mail(
    sessions: sessionmaker[Session], sink: MailSink, settings: Settings
) -> None:
    row = notification(kind="response", subject="[#100001] Re: Online banking down")
    queue(settings.database_url, row)
    assert deliver(sessions, settings) == 1
    [mail] = mails(sink)
    assert mail["To"] == "Alice Customer <alice@example.com>"
    assert mail["From"] == "helpdesk@ticketflow.test"
    assert mail["Reply-To"] == "helpdesk@ticketflow.test"
    assert mail["Subject"] == row["subject"]
    assert mail[IDEMPOTENCY_HEADER] == row["idempotency_key"]
    assert mail["Message-ID"] == keyed_message_id(
        row["idempotency_key"], secret_key=settings.secret_key, mail_from=settings.mail_from
    )
    assert row["body"] in mail.get_payload()
    record = stored(settings.database_url, row["idempotency_key"])
    assert (record.status, record.attempts, record.last_error) == ("sent", 1, None)
    # Mail-in finds a reply's ticket by the Message-ID it answers.
    assert record.message_id == mail["Message-ID"]
    assert deliver(sessions, settings) == 0
    assert len(sink.mails()) == 1


def test_a_requesters_mail_links_to_the_ticket_page_with_a_credential_never_stored(
    sessions: sessionmaker[Session], sink: MailSink, settings: Settings
) -> None:
    acknowledgement = notification(ticket="200002")
    closing = notification(ticket="200002", kind="closed", subject="[#200002] Closed: x")
    to_agent = notification(ticket="200002", kind="assigned", subject="[#200002] Assigned: x")
    queue(settings.database_url, acknowledgement, closing, to_agent)
    assert deliver(sessions, settings) == 3
    by_key = {
        mail[IDEMPOTENCY_HEADER]: mail.get_payload(decode=True).decode() for mail in mails(sink)
    }
    page = f"{settings.portal_url}/t/200002?k="
    now = datetime.now(UTC)
    for row in (acknowledgement, closing):
        body = by_key[row["idempotency_key"]]
        [link] = [word for word in body.split() if word.startswith(page)]
        credential = link.removeprefix(page)
        assert link_credential_valid(settings.secret_key, "200002", credential, now)
        assert not link_credential_valid(settings.secret_key, "200003", credential, now)
        assert not link_credential_valid(
            settings.secret_key, "200002", credential, now + timedelta(days=31)
        )
        assert credential not in stored(settings.database_url, row["idempotency_key"]).body
        assert "curl" not in body and requester_token(settings.secret_key, "200002") not in body
    assert "How did we do?" in by_key[closing["idempotency_key"]]
    assert page not in by_key[to_agent["idempotency_key"]]


def test_automatic_notifications_are_marked_and_a_persons_response_is_not(
    sessions: sessionmaker[Session], sink: MailSink, settings: Settings
) -> None:
    """Autoresponders of other help desks must not answer an acknowledgement."""
    acknowledgement = notification()
    response = notification(kind="response", subject="[#100001] Re: Online banking down")
    queue(settings.database_url, acknowledgement, response)
    deliver(sessions, settings)
    by_key = {mail[IDEMPOTENCY_HEADER]: mail for mail in mails(sink)}
    for row, automatic in ((acknowledgement, True), (response, False)):
        mail = by_key[row["idempotency_key"]]
        assert (mail["Auto-Submitted"] == "auto-generated") is automatic
        assert (mail["X-Auto-Response-Suppress"] == "All") is automatic


def test_the_log_channel_records_without_mail(
    sessions: sessionmaker[Session], sink: MailSink, settings: Settings
) -> None:
    row = notification(channel="log")
    queue(settings.database_url, row)
    assert deliver(sessions, settings) == 1
    assert sink.mails() == []
    record = stored(settings.database_url, row["idempotency_key"])
    assert (record.status, record.attempts, record.message_id) == ("sent", 1, None)


def test_an_smtp_outage_fails_and_a_pass_after_the_backoff_delivers(
    sessions: sessionmaker[Session], sink: MailSink, settings: Settings
) -> None:
    sink.stop()
    row = notification()
    key = row["idempotency_key"]
    queue(settings.database_url, row)
    deliver(sessions, settings)
    failed = stored(settings.database_url, key)
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.last_error
    sink.start()
    deliver(sessions, settings)  # within the backoff: left alone
    assert sink.mails() == []
    assert stored(settings.database_url, key).attempts == 1
    set_columns(settings, key, sent_at=datetime.now(UTC) - timedelta(seconds=3))
    assert deliver(sessions, settings) == 1
    retried = stored(settings.database_url, key)
    assert (retried.status, retried.attempts, retried.last_error) == ("sent", 2, None)
    assert len(sink.mails()) == 1


def test_a_running_attempt_is_left_to_its_process_and_an_abandoned_one_is_taken_over(
    sessions: sessionmaker[Session], sink: MailSink, settings: Settings
) -> None:
    running = notification(status="pending", sent_at=datetime.now(UTC) - timedelta(seconds=5))
    abandoned = notification(
        status="pending", sent_at=datetime.now(UTC) - ATTEMPT_LEASE - timedelta(minutes=1)
    )
    queue(settings.database_url, running, abandoned)
    deliver(sessions, settings)
    [mail] = mails(sink)
    assert mail[IDEMPOTENCY_HEADER] == abandoned["idempotency_key"]
    left = stored(settings.database_url, running["idempotency_key"])
    assert (left.status, left.attempts) == ("pending", 0)
    taken = stored(settings.database_url, abandoned["idempotency_key"])
    assert (taken.status, taken.attempts) == ("sent", 1)


def test_a_notification_failing_for_over_a_day_becomes_undeliverable(
    sessions: sessionmaker[Session], sink: MailSink, settings: Settings
) -> None:
    row = notification(
        status="failed",
        attempts=40,
        last_error="SMTPRecipientsRefused",
        created_at=datetime.now(UTC) - timedelta(days=1, minutes=1),
        sent_at=datetime.now(UTC) - timedelta(minutes=10),
    )
    queue(settings.database_url, row)
    assert deliver(sessions, settings) == 1
    assert sink.mails() == []
    record = stored(settings.database_url, row["idempotency_key"])
    assert (record.status, record.attempts) == ("undeliverable", 41)
    assert record.last_error == "SMTPRecipientsRefused"


def test_concurrent_passes_deliver_each_notification_once(
    sessions: sessionmaker[Session], sink: MailSink, settings: Settings
) -> None:
    rows = [notification() for _ in range(6)]
    queue(settings.database_url, *rows)
    barrier = threading.Barrier(4)

    def one_pass(_: int) -> int:
        barrier.wait()
        return deliver(sessions, settings)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one_pass, range(4)))
    assert sorted(mail[IDEMPOTENCY_HEADER] for mail in mails(sink)) == sorted(
        row["idempotency_key"] for row in rows
    )
    for row in rows:
        assert stored(settings.database_url, row["idempotency_key"]).attempts == 1


@pytest.mark.parametrize(
    "columns",
    [
        {"status": "queued"},
        {"status": "failed", "attempts": 1, "sent_at": datetime.now(UTC) - timedelta(hours=1)},
        {"status": "pending", "sent_at": datetime.now(UTC) - timedelta(hours=1)},
    ],
    ids=["queued", "failed", "abandoned"],
)
def test_of_concurrent_claims_on_one_attempt_exactly_one_wins(
    sessions: sessionmaker[Session], settings: Settings, columns: dict[str, object]
) -> None:
    row = notification(**columns)
    queue(settings.database_url, row)
    seen = stored(settings.database_url, row["idempotency_key"])
    barrier = threading.Barrier(8)

    def claim(_: int) -> bool:
        barrier.wait()
        return claim_attempt(sessions, seen, datetime.now(UTC))

    with ThreadPoolExecutor(max_workers=8) as pool:
        won = list(pool.map(claim, range(8)))
    assert won.count(True) == 1, won
    assert stored(settings.database_url, row["idempotency_key"]).status == "pending"


def test_the_running_service_delivers_what_is_queued(
    base_url: str, sink: MailSink, settings: Settings
) -> None:
    row = notification()
    queue(settings.database_url, row)
    deadline = time.monotonic() + 15
    while stored(settings.database_url, row["idempotency_key"]).status != DeliveryStatus.SENT:
        assert time.monotonic() < deadline, "the queued notification was not delivered"
        time.sleep(0.05)
    [mail] = mails(sink)
    assert mail[IDEMPOTENCY_HEADER] == row["idempotency_key"]


def test_an_invite_mail_gets_its_link_as_it_is_sent_and_the_outbox_keeps_none(
    sessions: sessionmaker[Session], sink: MailSink, settings: Settings
) -> None:
    key = "agent-invite:5f0e2d"
    body = f"Choose your password here:\n\n{invites.INVITE_LINK}\n\nThe link works once."
    queue(
        settings.database_url,
        notification(idempotency_key=key, ticket="-", kind="agent_invite", body=body),
    )
    assert deliver(sessions, settings) == 1
    [mail] = mails(sink)
    link = invites.invite_url(settings.portal_url, invite_token(settings.secret_key, key))
    assert link in mail.get_payload() and invites.INVITE_LINK not in mail.get_payload()
    assert stored(settings.database_url, key).body == body
