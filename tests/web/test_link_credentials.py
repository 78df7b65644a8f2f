"""The link credential (shared/access.py): signed for one ticket, expiring, never the access
token; and intake taking it as the requester's credential for that ticket alone."""

import logging
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from services.intake.app import create_app as create_intake
from shared.access import (
    is_link_credential,
    link_credential,
    link_credential_valid,
    new_link_credential,
    requester_token,
    ticket_page_url,
)
from shared.db.engine import make_engine, make_sessionmaker
from shared.reference import service as reference
from shared.reference.schemas import HelpTopicUpdate
from shared.settings import Settings
from tests.builders import seed_ticket
from tests.web.consoles import SECRET, TemporalDown

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


def test_a_credential_is_valid_for_its_ticket_until_it_expires() -> None:
    credential = link_credential(SECRET, "100001", LATER)
    assert is_link_credential(credential)
    assert link_credential_valid(SECRET, "100001", credential, NOW)
    assert link_credential_valid(SECRET, "100001", credential, LATER - timedelta(seconds=1))
    assert not link_credential_valid(SECRET, "100001", credential, LATER)


def test_a_credential_opens_no_other_ticket() -> None:
    credential = link_credential(SECRET, "100001", LATER)
    assert not link_credential_valid(SECRET, "100002", credential, NOW)
    # Nor does rewriting the number inside it: the signature covers it.
    forged = credential.replace("100001", "100002")
    assert not link_credential_valid(SECRET, "100002", forged, NOW)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda c: c[:-1] + ("A" if c[-1] != "A" else "B"),  # the signature
        lambda c: c.replace(".", ".9", 2)[: len(c) + 1],  # a later expiry
        lambda c: c.rsplit(".", 1)[0],  # no signature
        lambda c: "tl1." + c.rsplit(".", 1)[1],
        lambda c: c + "é",
        lambda c: "",
    ],
)
def test_a_tampered_credential_is_refused(tamper: object) -> None:
    credential = link_credential(SECRET, "100001", LATER)
    assert callable(tamper)
    assert not link_credential_valid(SECRET, "100001", tamper(credential), NOW)


def test_a_credential_signed_under_another_key_is_refused() -> None:
    credential = link_credential("another-secret-key-of-enough-length-000", "100001", LATER)
    assert not link_credential_valid(SECRET, "100001", credential, NOW)


def test_a_credential_is_not_the_access_token_nor_accepted_as_one() -> None:
    credential = new_link_credential(SECRET, "100001", now=NOW, lifetime=timedelta(days=30))
    token = requester_token(SECRET, "100001")
    assert token not in credential
    assert not link_credential_valid(SECRET, "100001", token, NOW)


def test_the_page_url_carries_the_credential_once() -> None:
    credential = link_credential(SECRET, "100001", LATER)
    url = ticket_page_url("https://help.example.com/", "100001", credential)
    assert url == f"https://help.example.com/t/100001?k={credential}"


# Intake takes it as the requester's credential, for that ticket, until it expires.


@pytest.fixture
def intake(settings: Settings, database: str) -> TestClient:
    seed_ticket(database, "100001", notes=("internal: the printer is ours",))
    seed_ticket(database, "100002")
    app = create_intake(settings, temporal=TemporalDown())  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False)


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


def test_intake_answers_the_ticket_to_its_link_credential_without_notes(
    intake: TestClient,
) -> None:
    now = datetime.now(UTC)
    credential = new_link_credential(SECRET, "100001", now=now, lifetime=timedelta(days=1))
    with intake:
        answer = intake.get("/api/v1/tickets/100001", headers=bearer(credential))
        assert answer.status_code == 200, answer.text
        assert [entry["kind"] for entry in answer.json()["thread"]] == ["message"]
        assert "access_token" not in answer.json()


def test_intake_refuses_an_expired_tampered_or_other_tickets_link_credential(
    intake: TestClient,
) -> None:
    now = datetime.now(UTC)
    expired = link_credential(SECRET, "100001", now - timedelta(seconds=1))
    other = new_link_credential(SECRET, "100002", now=now, lifetime=timedelta(days=1))
    good = new_link_credential(SECRET, "100001", now=now, lifetime=timedelta(days=1))
    tampered = good[:-2] + ("xx" if not good.endswith("xx") else "yy")
    with intake:
        for credential in (expired, other, tampered):
            answer = intake.get("/api/v1/tickets/100001", headers=bearer(credential))
            assert answer.status_code == 401, (credential, answer.text)
            download = intake.get(
                f"/api/v1/tickets/100001/attachments/{'0' * 40}", headers=bearer(credential)
            )
            assert download.status_code == 401
        # A link credential is a requester's: never an agent's list or timeline.
        assert intake.get("/api/v1/tickets", headers=bearer(good)).status_code == 401
        timeline = intake.get("/api/v1/tickets/100001/timeline", headers=bearer(good))
        assert timeline.status_code == 401


def test_the_public_help_topics_are_the_active_ones_with_their_texts_and_no_routing(
    intake: TestClient, database: str
) -> None:
    engine = make_engine(database)
    with make_sessionmaker(engine).begin() as session:
        off = HelpTopicUpdate(active=False)
        reference.update_help_topic(session=session, handle="network", data=off)
    engine.dispose()
    with intake:
        answer = intake.get("/api/v1/help-topics")
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        # The demo's topics by name, but for the inactive one.
        assert [item["handle"] for item in items] == ["account-access", "general", "online-banking"]
        assert all(set(item) == {"handle", "name", "description", "instructions"} for item in items)
        banking = items[-1]
        assert banking["name"] == "Online banking"
        assert banking["description"].startswith("Online banking down, slow or showing errors")
        assert banking["instructions"].startswith("The date and time it started")
        assert items[1]["instructions"] is None  # general asks for nothing in particular
        schema = intake.get("/openapi.json").json()
        assert "get" in schema["paths"]["/api/v1/help-topics"]


def test_the_portals_access_log_never_holds_a_link_credential() -> None:
    from services.web.main import RedactLinkCredentials

    credential = link_credential(SECRET, "100001", LATER)
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/t/100001?k={credential}&x=1", "1.1", 303),
        None,
    )
    assert RedactLinkCredentials().filter(record)
    assert credential not in record.getMessage()
    assert "/t/100001?k=[redacted]&x=1" in record.getMessage()
    invite = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", "/agent/invite/s3cr3t-token", "1.1", 303),
        None,
    )
    assert RedactLinkCredentials().filter(invite)
    assert "s3cr3t-token" not in invite.getMessage()
    assert "/agent/invite/[redacted]" in invite.getMessage()
