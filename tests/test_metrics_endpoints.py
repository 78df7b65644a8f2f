"""GET /metrics of intake, notify and the portal: Prometheus text, to loopback clients or with
METRICS_TOKEN, never in the OpenAPI documents; notify's holds the desk's figures read from a
real database (the outbox's backlog, the feed's lag, mail-in's outcomes), labelled by kinds
only. The apps run in this process over ASGI, each with its lifespan, on SQLite and
PostgreSQL."""

import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy.orm import Session

from services.intake.app import create_app as intake_app
from services.notify.app import create_app as notify_app
from services.web.app import create_app as web_app
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import (
    FeedEventRow,
    InboundMailRow,
    NotificationRow,
    WebhookSubscriptionRow,
)
from shared.settings import Settings

APPS: dict[str, Callable[[Settings], FastAPI]] = {
    "intake": intake_app,
    "notify": notify_app,
    "web": web_app,
}
ANNA = "anna@example.com"
ROOT = Path(__file__).resolve().parents[1]


def settings_for(database_url: str, **changes: object) -> Settings:
    return Settings(
        database_url=database_url,
        environment="test",
        # Only the metrics: no delivery loops in these tests.
        notify_deliver_outbox=False,
        notify_deliver_webhooks=False,
        **changes,  # type: ignore[arg-type]
    )


@asynccontextmanager
async def serving(
    app: FastAPI, client: tuple[str, int] = ("127.0.0.1", 40000)
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=client)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://service") as http,
    ):
        yield http


def families(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    return {
        family.name: [(s.name, s.labels, s.value) for s in family.samples]
        for family in text_string_to_metric_families(text)
    }


@pytest.mark.parametrize("service", APPS)
async def test_metrics_are_prometheus_text_for_a_loopback_client(
    service: str, database_url: str
) -> None:
    app = APPS[service](settings_for(database_url))
    async with serving(app) as http:
        response = await http.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == CONTENT_TYPE_LATEST
        found = families(response.text)
        assert "process_cpu_seconds" in found and "ticketflow_commands" in found
        if service != "web":  # the portal has no OpenAPI document at all
            assert "/metrics" not in app.openapi()["paths"]
    async with serving(app, client=("203.0.113.7", 40000)) as http:
        refused = await http.get("/metrics")
        assert refused.status_code == 403 and "METRICS_TOKEN" in refused.json()["detail"]


@pytest.mark.parametrize("service", APPS)
async def test_with_a_metrics_token_only_its_bearer_reads_them(
    service: str, sqlite_url: str
) -> None:
    token = "metrics-token-for-the-test"
    app = APPS[service](settings_for(sqlite_url, metrics_token=SecretStr(token)))
    async with serving(app, client=("203.0.113.7", 40000)) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            refused = await http.get("/metrics", headers=headers)
            assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
        granted = await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert granted.status_code == 200 and "ticketflow_commands" in families(granted.text)
    async with serving(app) as http:  # loopback too needs it, once it is set
        assert (await http.get("/metrics")).status_code == 401


async def test_notify_reads_the_desks_backlogs_from_the_database(database_url: str) -> None:
    now = datetime.now(UTC)
    sessions = make_sessionmaker(make_engine(database_url))
    with sessions.begin() as session:
        add_backlog(session, now)
    async with serving(notify_app(settings_for(database_url))) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    found = families(response.text)
    assert found["ticketflow_database_metrics_up"] == [("ticketflow_database_metrics_up", {}, 1)]
    depth = {
        labels["status"]: value for _, labels, value in found["ticketflow_outbox_notifications"]
    }
    assert depth == {"queued": 2, "pending": 0, "failed": 1}
    [(_, _, age)] = found["ticketflow_outbox_oldest_age_seconds"]
    assert 600 <= age < 700  # the failed one, ten minutes old; the sent one does not count
    [(_, _, lag)] = found["ticketflow_feed_lag_seconds"]
    assert 120 <= lag < 220  # the event after the subscription's cursor
    mail_in = {
        labels["outcome"]: value
        for name, labels, value in found["ticketflow_mail_in_messages"]
        if name.endswith("_total")
    }
    assert mail_in["created"] == 1 and mail_in["refused"] == 0
    assert ANNA not in response.text and "Printer jams" not in response.text
    labels = [v for samples in found.values() for _, ls, _ in samples for v in ls.values()]
    assert labels and not [value for value in labels if "@" in value]


def add_backlog(session: Session, now: datetime) -> None:
    """Notifications to Anna (two queued, one failed, one sent), a subscription one event
    behind the feed, and a mail from her that opened a ticket."""
    for status, age in [("queued", 60), ("queued", 30), ("failed", 600), ("sent", 3600)]:
        session.add(
            NotificationRow(
                idempotency_key=f"100001:1:ticket_received:{ANNA}:{status}:{age}",
                ticket="100001",
                kind="ticket_received",
                recipient_name="Anna",
                recipient_email=ANNA,
                channel="email",
                subject="Printer jams",
                body="Printer jams",
                status=status,
                attempts=0,
                created_at=now - timedelta(seconds=age),
            )
        )
    seen = FeedEventRow(
        event_id="100001-1",
        ticket="100001",
        seq=1,
        type="ticket.created",
        internal=False,
        at=now - timedelta(seconds=300),
        payload={},
    )
    session.add(seen)
    session.flush()
    session.add(
        FeedEventRow(
            event_id="100001-2",
            ticket="100001",
            seq=2,
            type="ticket.noted",
            internal=True,
            at=now - timedelta(seconds=120),
            payload={},
        )
    )
    session.add(
        WebhookSubscriptionRow(
            handle="crm",
            url="https://crm.example.net/hook",
            secret="whsec_x",
            event_types=[],
            departments=[],
            help_topics=[],
            include_internal=True,
            active=True,
            cursor_txid=seen.txid or 0,
            cursor_position=seen.position,
            created_at=now,
            updated_at=now,
        )
    )
    session.add(
        InboundMailRow(
            message_id="<m1@example.com>",
            mail_from=ANNA,
            rcpt_to="help@desk.example.com",
            subject="Printer jams",
            outcome="created",
            ticket="100001",
            attachments=[],
            size=100,
            received_at=now,
        )
    )


async def test_the_grafana_dashboard_queries_metrics_that_exist(sqlite_url: str) -> None:
    """Every ticketflow metric deploy/grafana/ticketflow.json queries is one notify serves
    (its own and the database's; intake's and the worker's are the same module's)."""
    dashboard = json.loads((ROOT / "deploy" / "grafana" / "ticketflow.json").read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    asked = {
        re.sub(r"_(total|bucket|count|sum)$", "", name)
        for query in queries
        for name in re.findall(r"ticketflow_\w+", query)
    }
    async with serving(notify_app(settings_for(sqlite_url))) as http:
        served = set(families((await http.get("/metrics")).text))
    assert len(asked) >= 10 and asked <= served, asked - served
