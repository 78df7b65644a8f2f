"""The worker's notify client against the real notify service: it sends NOTIFY_TOKEN."""

from collections.abc import Iterator

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from services.workflows.activities import TicketActivities
from shared.db.engine import make_engine, make_sessionmaker
from shared.enums import NotificationKind, RecipientRole
from shared.models import Notice, NotificationRequest, Person, Recipient
from shared.settings import Settings, get_settings
from tests.notify.conftest import TOKEN, MailSink

pytestmark = pytest.mark.parametrize("notify_db_url", ["sqlite"], indirect=True)


def request() -> NotificationRequest:
    return NotificationRequest(
        idempotency_key="600006:response:1",
        ticket="600006",
        notice=Notice(
            kind=NotificationKind.RESPONSE,
            recipient=Recipient(role=RecipientRole.REQUESTER),
            subject="[#600006] An answer",
            body="Here is what we found.",
            event_seq=1,
        ),
        requester=Person(name="Alice Customer", email="alice@example.com"),
        department="support",
    )


@pytest.fixture
def activities(settings: Settings, base_url: str) -> Iterator[TicketActivities]:
    engine = make_engine(settings.database_url)
    with httpx.Client(timeout=30) as http:
        yield TicketActivities(
            make_sessionmaker(engine), http, base_url, "secret", "http://127.0.0.1:8000"
        )
    engine.dispose()


@pytest.fixture
def worker_token(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The worker reads NOTIFY_TOKEN from its environment, through the cached settings."""
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_worker_delivers_with_its_configured_token(
    activities: TicketActivities, worker_token: pytest.MonkeyPatch, sink: MailSink
) -> None:
    worker_token.setenv("NOTIFY_TOKEN", TOKEN)
    result = activities.send_notification(request())
    assert result.sent_to == "alice@example.com"
    assert len(sink.mails()) == 1


def test_worker_with_a_wrong_token_fails_retryably(
    activities: TicketActivities, worker_token: pytest.MonkeyPatch, sink: MailSink
) -> None:
    worker_token.setenv("NOTIFY_TOKEN", "not-the-notify-token")
    # A plain error, so Temporal retries it: fixing the configuration lets the mail go out.
    with pytest.raises(RuntimeError, match="notify service answered 401") as raised:
        activities.send_notification(request())
    assert not isinstance(raised.value, ApplicationError)
    assert sink.mails() == []
