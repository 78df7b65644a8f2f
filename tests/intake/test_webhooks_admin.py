"""The webhook admin API over HTTP, on SQLite and PostgreSQL: admins only; the secret shown
once; the SSRF rule answered 422 with its reason; the delivery log, replays and alerts."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from standardwebhooks import Webhook

from shared.db import webhook_attempts as attempts
from shared.db import webhook_queue as queue
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.events import Cursor
from shared.db.tables import WebhookSubscriptionRow
from tests.builders import T0, TEST_ENCRYPTION_KEYS, agent_headers
from tests.webhook_feed import BACKOFF, DOWN, LEASE, Tickets, drain

API = "/api/v1/admin/webhooks"
HOOK = {"handle": "crm", "url": "http://127.0.0.1:9999/hook"}


def agent(database_url: str, handle: str, role: str) -> dict[str, str]:
    return agent_headers(database_url, handle, role)


@pytest.fixture
def admin(database_url: str) -> dict[str, str]:
    return agent(database_url, "root", "admin")


def create(client: TestClient, admin: dict[str, str], **body: Any) -> dict[str, Any]:
    response = client.post(API, json={**HOOK, **body}, headers=admin)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_the_secret_is_shown_once_and_a_subscription_is_managed(
    client: TestClient, admin: dict[str, str]
) -> None:
    created = create(client, admin, event_types=["ticket.created"], include_internal=True)
    assert created["secret"].startswith("whsec_")
    Webhook(created["secret"])  # a receiver's library takes it as it is
    assert created["active"] is True and created["backlog"] == 0
    read = client.get(f"{API}/crm", headers=admin).json()
    assert "secret" not in read and read["event_types"] == ["ticket.created"]
    assert "secret" not in client.get(API, headers=admin).json()["items"][0]
    given = "whsec_" + "A" * 32
    assert create(client, admin, handle="erp", secret=given)["secret"] == given

    patched = client.patch(f"{API}/crm", json={"event_types": []}, headers=admin).json()
    assert patched["event_types"] == [] and patched["secret"] is None
    rotated = client.patch(f"{API}/crm", json={"rotate_secret": True}, headers=admin).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    off = client.patch(f"{API}/crm", json={"active": False}, headers=admin).json()
    assert off["active"] is False

    assert client.delete(f"{API}/crm", headers=admin).status_code == 204
    assert client.get(f"{API}/crm", headers=admin).status_code == 404
    assert [w["handle"] for w in client.get(API, headers=admin).json()["items"]] == ["erp"]


def test_only_admins_manage_webhooks(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    john = agent(database_url, "john", "agent")
    assert client.get(API).status_code == 401
    assert client.get(API, headers=john).status_code == 403
    assert client.post(API, json=HOOK, headers=john).status_code == 403
    assert client.post(API, json={"nonsense": 1}, headers=john).status_code == 403


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"url": "http://hooks.example.com/in"}, "http is only for a receiver on loopback"),
        ({"url": "ftp://127.0.0.1/in"}, "a webhook URL is https"),
        ({"url": "https://u:p@hooks.example.com/in"}, "may not carry credentials"),
        ({"secret": "not-a-secret"}, "starts with 'whsec_'"),
        ({"secret": "whsec_c2hvcnQ="}, "24 to 64 bytes"),
        ({"event_types": ["ticket.exploded"]}, "ticket.created"),
        ({"departments": ["nowhere"]}, "unknown department 'nowhere'"),
        ({"help_topics": ["nothing"]}, "unknown help topic 'nothing'"),
        ({"from": "yesterday"}, "'now' or 'beginning'"),
        ({"handle": "Not A Handle"}, "pattern"),
    ],
)
def test_bad_subscriptions_are_refused_with_the_reason(
    client: TestClient, admin: dict[str, str], body: dict[str, Any], reason: str
) -> None:
    response = client.post(API, json={**HOOK, **body}, headers=admin)
    assert response.status_code == 422, response.text
    assert reason in response.text


def test_conflicts_and_unknown_handles(client: TestClient, admin: dict[str, str]) -> None:
    create(client, admin)
    assert client.post(API, json=HOOK, headers=admin).status_code == 409
    for method, path in [
        ("GET", f"{API}/none"),
        ("PATCH", f"{API}/none"),
        ("DELETE", f"{API}/none"),
        ("GET", f"{API}/none/deliveries"),
        ("POST", f"{API}/none/replay"),
    ]:
        body = {"POST": {"event_ids": ["100000-1"]}, "PATCH": {"active": True}}.get(method)
        response = client.request(method, path, json=body, headers=admin)
        assert response.status_code == 404, (method, path, response.text)
    bad_patch = client.patch(f"{API}/crm", json={"url": "http://10.0.0.1/in"}, headers=admin)
    assert bad_patch.status_code == 422 and "loopback" in bad_patch.text
    both = client.patch(
        f"{API}/crm", json={"rotate_secret": True, "secret": "whsec_" + "A" * 32}, headers=admin
    )
    assert both.status_code == 422


@pytest.fixture
def production(client_for: Callable[..., TestClient]) -> TestClient:
    return client_for(
        environment="production",
        secret_key="p" * 40,
        notify_token="n" * 20,
        encryption_keys=TEST_ENCRYPTION_KEYS,
        webhook_allowed_hosts=["10.20.0.0/16"],
    )


@pytest.mark.parametrize(
    ("url", "status", "reason"),
    [
        ("https://hooks.example.com/in", 201, ""),
        ("https://10.20.1.1/in", 201, ""),  # on the allow-list
        ("http://hooks.example.com/in", 422, "must use https in production"),
        ("https://127.0.0.1/in", 422, "loopback address"),
        ("https://localhost/in", 422, "loopback address"),
        ("https://10.0.0.5/in", 422, "private address"),
        ("https://169.254.169.254/latest", 422, "link-local address"),
    ],
)
def test_production_refuses_internal_targets_on_create(
    production: TestClient, admin: dict[str, str], url: str, status: int, reason: str
) -> None:
    response = production.post(API, json={**HOOK, "url": url}, headers=admin)
    assert response.status_code == status, response.text
    assert reason in response.text
    if status == 422:
        assert response.json()["detail"][0]["loc"] == ["body", "url"]


def test_the_delivery_log_shows_attempts_and_replays_add_deliveries(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    sessions = make_sessionmaker(make_engine(database_url))
    create(client, admin, **{"from": "beginning"})
    tickets = Tickets(sessions)
    tickets.open("710001")
    tickets.reply("710001")
    drain(sessions)
    with sessions() as session:
        [head] = queue.due(session, T0, limit=10)
    claimed = attempts.claim_attempt(sessions, head, T0, LEASE)
    assert claimed is not None
    attempts.settle_attempt(sessions, claimed, DOWN, BACKOFF, T0, "log")

    log = client.get(f"{API}/crm/deliveries", headers=admin).json()
    assert [d["event_id"] for d in log["items"]] == ["710001-3", "710001-2", "710001-1"]
    oldest = log["items"][-1]
    assert oldest["status"] == "pending" and oldest["next_attempt_at"] is not None
    assert oldest["webhook_id"] == claimed.webhook_id and oldest["replay"] is False
    [attempt] = oldest["attempts"]
    assert attempt["status_code"] == 503 and attempt["latency_ms"] == 2.0
    assert attempt["error"] == "HTTP 503: down"
    page = client.get(f"{API}/crm/deliveries", params={"limit": 2}, headers=admin).json()
    assert len(page["items"]) == 2
    rest = client.get(
        f"{API}/crm/deliveries", params={"before": page["next_before"]}, headers=admin
    ).json()
    assert [d["event_id"] for d in rest["items"]] == ["710001-1"] and rest["next_before"] is None
    assert client.get(f"{API}/crm", headers=admin).json()["backlog"] == 3

    replayed = client.post(
        f"{API}/crm/replay", json={"event_ids": ["710001-1", "710001-1"]}, headers=admin
    )
    assert replayed.status_code == 202, replayed.text
    assert replayed.json() == {"queued": ["710001-1"], "skipped": [], "next_cursor": None}
    from_start = client.post(
        f"{API}/crm/replay", json={"from_cursor": Cursor().encode()}, headers=admin
    ).json()
    assert from_start["queued"] == ["710001-1", "710001-2", "710001-3"]
    newest = client.get(f"{API}/crm/deliveries", params={"limit": 1}, headers=admin).json()
    assert newest["items"][0]["replay"] is True
    assert newest["items"][0]["webhook_id"].startswith(claimed.webhook_id.rsplit("-", 1)[0])
    pending = client.get(f"{API}/crm/deliveries", params={"status": "pending"}, headers=admin)
    assert len(pending.json()["items"]) == 3 + 1 + 3

    for body, reason in [
        ({"event_ids": ["710001-99"]}, "no such events: 710001-99"),
        ({"from_cursor": "garbage!"}, "not a cursor of this feed"),
        ({}, "give either from_cursor or event_ids"),
        ({"event_ids": ["x"]}, "pattern"),
    ]:
        bad = client.post(f"{API}/crm/replay", json=body, headers=admin)
        assert bad.status_code == 422 and reason in bad.text, (body, bad.text)


def test_a_disabled_webhook_is_an_alert(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    create(client, admin)
    create(client, admin, handle="paused", active=False)
    sessions = make_sessionmaker(make_engine(database_url))
    when = datetime.now(UTC) - timedelta(minutes=5)
    with sessions.begin() as session:
        session.execute(
            update(WebhookSubscriptionRow)
            .where(WebhookSubscriptionRow.handle == "crm")
            .values(active=False, disabled_reason="deliveries failed for 3 days", disabled_at=when)
        )
    alerts = client.get("/api/v1/admin/alerts", headers=admin).json()
    [alert] = alerts["failing_webhooks"]  # not "paused": an admin turned that one off
    assert alert["handle"] == "crm" and alert["reason"] == "deliveries failed for 3 days"
    assert alert["failed_deliveries"] == 0
    assert alert["fix_with"] == 'PATCH /api/v1/admin/webhooks/crm {"active": true}'
    back = client.patch(f"{API}/crm", json={"active": True}, headers=admin).json()
    assert back["active"] is True and back["disabled_reason"] is None
    assert client.get("/api/v1/admin/alerts", headers=admin).json()["failing_webhooks"] == []
