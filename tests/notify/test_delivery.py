"""Delivery through the real SMTP sink: once per key, retried after failures, never twice."""

import email
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import create_engine, select, update
from sqlalchemy.orm import Session

from services.notify.mailer import IDEMPOTENCY_HEADER
from shared.db.tables import Notification
from shared.domain.mail.trust import keyed_message_id
from shared.settings import Settings
from tests.notify.conftest import MailSink
from tests.notify.payloads import notification


def post_together(
    client: httpx.Client, payload: dict[str, Any], times: int
) -> list[httpx.Response]:
    """POST the same body from `times` threads released at the same instant."""
    barrier = threading.Barrier(times)

    def post(_: int) -> httpx.Response:
        barrier.wait()
        return client.post("/api/v1/notifications", json=payload)

    with ThreadPoolExecutor(max_workers=times) as pool:
        return list(pool.map(post, range(times)))


def stored(settings: Settings, key: str) -> Notification:
    engine = create_engine(settings.database_url)
    try:
        with Session(engine) as session:
            return session.scalars(
                select(Notification).where(Notification.idempotency_key == key)
            ).one()
    finally:
        engine.dispose()


def test_new_notification_is_delivered_as_mail(
    client: httpx.Client, sink: MailSink, settings: Settings
) -> None:
    payload = notification()
    response = client.post("/api/v1/notifications", json=payload)
    assert response.status_code == 201, response.text
    record = response.json()
    assert record["status"] == "sent"
    assert record["attempts"] == 1
    assert record["sent_at"] is not None
    assert record["recipient"] == payload["recipient"]
    [eml] = sink.mails()
    mail = email.message_from_bytes(eml.read_bytes())
    assert mail["To"] == "Alice Customer <alice@example.com>"
    assert mail["From"] == "helpdesk@ticketflow.test"
    assert mail["Subject"] == payload["subject"]
    assert mail[IDEMPOTENCY_HEADER] == payload["idempotency_key"]
    assert mail["Message-ID"] == keyed_message_id(
        payload["idempotency_key"], secret_key=settings.secret_key, mail_from=settings.mail_from
    )
    assert mail["Reply-To"] == "helpdesk@ticketflow.test"
    assert payload["body"] in mail.get_payload()


def test_repeated_key_delivers_once(client: httpx.Client, sink: MailSink) -> None:
    payload = notification()
    first = client.post("/api/v1/notifications", json=payload)
    second = client.post("/api/v1/notifications", json=payload)
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == first.json()
    assert len(sink.mails()) == 1


def test_concurrent_duplicates_deliver_one_mail(client: httpx.Client, sink: MailSink) -> None:
    payload = notification()
    responses = post_together(client, payload, times=10)
    codes = sorted(r.status_code for r in responses)
    assert codes.count(201) == 1, codes
    assert set(codes) <= {200, 201, 409}, codes
    assert len(sink.mails()) == 1
    after = client.post("/api/v1/notifications", json=payload)
    assert after.status_code == 200
    assert after.json()["attempts"] == 1


def test_smtp_outage_fails_then_retry_delivers(
    client: httpx.Client, sink: MailSink, settings: Settings
) -> None:
    sink.stop()
    payload = notification()
    down = client.post("/api/v1/notifications", json=payload)
    assert down.status_code == 503
    assert down.json() == {"detail": "delivery failed, retry later"}
    failed = stored(settings, payload["idempotency_key"])
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert failed.last_error
    sink.start()
    retry = client.post("/api/v1/notifications", json=payload)
    assert retry.status_code == 200, retry.text
    assert (retry.json()["status"], retry.json()["attempts"]) == ("sent", 2)
    assert len(sink.mails()) == 1
    assert stored(settings, payload["idempotency_key"]).last_error is None


def _age_record(settings: Settings, key: str, age: timedelta) -> None:
    engine = create_engine(settings.database_url)
    with engine.begin() as conn:
        conn.execute(
            update(Notification)
            .where(Notification.idempotency_key == key)
            .values(status="pending", attempts=0, sent_at=None, created_at=datetime.now(UTC) - age)
        )
    engine.dispose()


def test_concurrent_retries_of_a_failed_record_deliver_one_mail(
    client: httpx.Client, sink: MailSink
) -> None:
    sink.stop()
    payload = notification()
    assert client.post("/api/v1/notifications", json=payload).status_code == 503
    sink.start()
    responses = post_together(client, payload, times=10)
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 409}, codes
    assert len(sink.mails()) == 1
    final = client.post("/api/v1/notifications", json=payload).json()
    assert (final["status"], final["attempts"]) == ("sent", 2)


def test_fresh_pending_record_answers_409(
    client: httpx.Client, sink: MailSink, settings: Settings
) -> None:
    payload = notification()
    assert client.post("/api/v1/notifications", json=payload).status_code == 201
    _age_record(settings, payload["idempotency_key"], timedelta(seconds=5))
    response = client.post("/api/v1/notifications", json=payload)
    assert response.status_code == 409
    assert response.json() == {"detail": "delivery in progress"}
    assert len(sink.mails()) == 1


def test_abandoned_pending_record_is_claimed_and_delivered(
    client: httpx.Client, sink: MailSink, settings: Settings
) -> None:
    payload = notification()
    assert client.post("/api/v1/notifications", json=payload).status_code == 201
    # As if the process died mid-delivery two minutes ago.
    _age_record(settings, payload["idempotency_key"], timedelta(minutes=2))
    response = client.post("/api/v1/notifications", json=payload)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["attempts"]) == ("sent", 1)
    assert len(sink.mails()) == 2


def test_log_channel_records_without_mail(client: httpx.Client, sink: MailSink) -> None:
    response = client.post("/api/v1/notifications", json=notification(channel="log"))
    assert response.status_code == 201
    assert response.json()["status"] == "sent"
    assert sink.mails() == []


def test_a_sent_mail_keeps_its_message_id_and_automatic_ones_are_marked(
    client: httpx.Client, sink: MailSink, settings: Settings
) -> None:
    """Mail-in finds a reply's ticket by the Message-ID it answers; autoresponders of other
    help desks must not answer an acknowledgement, but a person's response is unmarked."""
    acknowledgement = notification()
    response = notification(
        idempotency_key="100001:3:response:alice@example.com",
        kind="response",
        subject="[#100001] Re: Online banking down",
    )
    for payload in (acknowledgement, response):
        assert client.post("/api/v1/notifications", json=payload).status_code == 201
    mails = [email.message_from_bytes(eml.read_bytes()) for eml in sink.mails()]
    by_key = {mail[IDEMPOTENCY_HEADER]: mail for mail in mails}
    for payload, automatic in ((acknowledgement, True), (response, False)):
        mail = by_key[payload["idempotency_key"]]
        assert stored(settings, payload["idempotency_key"]).message_id == mail["Message-ID"]
        assert (mail["Auto-Submitted"] == "auto-generated") is automatic
        assert (mail["X-Auto-Response-Suppress"] == "All") is automatic
