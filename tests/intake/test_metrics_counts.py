"""ticketflow's counters move as the desk works: a real Temporal dev server, the real worker
and the intake app in this process, on SQLite. Intake counts commands by action and outcome;
the worker (served on its own metrics port) counts a ticket opened by source once published,
and an SLA breach's escalation with its lateness. No label holds the requester's address."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from temporalio.client import Client

from services.intake.app import create_app
from services.processes import free_port
from services.workflows.telemetry import serving_metrics
from services.workflows.worker import build_worker
from shared.db.engine import make_engine, make_sessionmaker
from shared.reference.config_file import load_config
from shared.settings import Settings
from tests.databases import sqlite_database
from tests.devserver import start_dev_server

TICKETS = "/api/v1/tickets"
JANE = {"Authorization": "Bearer jane-token-1234"}
ALICE = "alice.metrics@example.com"
PLAN = {"resolution": "P1D", "auto_close": "P3D"}
REFERENCE = {
    "agents": [
        {
            "handle": "jane",
            "name": "Jane",
            "email": "jane@example.com",
            "role": "admin",
            "token": "jane-token-1234",
        }
    ],
    "departments": [{"handle": "ob", "name": "Online banking", "manager": "jane"}],
    "sla_plans": [
        {"handle": "default", "name": "Default", "first_response": "PT4H", **PLAN},
        # Calendar time (no schedule): breached two seconds after opening.
        {"handle": "fast", "name": "Fast", "first_response": "PT2S", **PLAN},
    ],
    "help_topics": [
        {"handle": "login", "name": "Login", "department": "ob", "sla_plan": "default"},
        {"handle": "outage", "name": "Outage", "department": "ob", "sla_plan": "fast"},
    ],
}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass
class Desk:
    intake: httpx.AsyncClient  # the app over ASGI, as a loopback client
    worker_metrics: str  # the worker's own metrics endpoint in this process


@pytest.fixture(scope="module")
async def desk(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Desk]:
    temporal = await start_dev_server()
    try:
        with sqlite_database(tmp_path_factory.mktemp("metrics")) as url:
            async for desk in _desk(url, temporal.client):
                yield desk
    finally:
        await temporal.shutdown()


async def _desk(url: str, client: Client) -> AsyncIterator[Desk]:
    engine = make_engine(url)
    with make_sessionmaker(engine)() as session:
        load_config(session, REFERENCE)
    engine.dispose()
    port = free_port()
    settings = Settings(
        database_url=url,
        environment="test",
        temporal_task_queue=f"q-{uuid.uuid4().hex[:8]}",
        worker_metrics_port=port,
    )
    app = create_app(settings, temporal=client)
    transport = httpx.ASGITransport(app=app)
    with ThreadPoolExecutor(max_workers=32) as executor, serving_metrics(settings):
        async with (
            build_worker(client, settings, executor),
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://intake", timeout=30) as http,
        ):
            yield Desk(intake=http, worker_metrics=f"http://127.0.0.1:{port}/metrics")


async def scrape(desk: Desk) -> tuple[str, Samples]:
    response = await desk.intake.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text, samples(response.text)


async def scrape_worker(desk: Desk) -> Samples:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(desk.worker_metrics)
    assert response.status_code == 200, response.text
    return samples(response.text)


def samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def label_values(found: Samples) -> list[str]:
    return [value for _, labels in found for _, value in labels]


async def open_ticket(desk: Desk, topic: str) -> str:
    body = {
        "requester": {"name": "Alice", "email": ALICE},
        "subject": "Cannot log in",
        "message": "Since this morning.",
        "help_topic": topic,
        "source": "api",
    }
    response = await desk.intake.post(TICKETS, json=body, headers=JANE)
    assert response.status_code == 201, response.text
    number: str = response.json()["number"]
    return number


async def test_opening_and_commanding_count_by_source_action_and_outcome(desk: Desk) -> None:
    _, before = await scrape(desk)
    opened_before = await scrape_worker(desk)
    number = await open_ticket(desk, "login")
    assign = f"{TICKETS}/{number}/assign"
    applied = await desk.intake.post(assign, json={"agent": "jane"}, headers=JANE)
    assert applied.status_code == 200, applied.text
    unknown = await desk.intake.post(assign, json={"agent": "nobody"}, headers=JANE)
    assert unknown.status_code == 404, unknown.text
    reopen = await desk.intake.post(f"{TICKETS}/{number}/reopen", headers=JANE)
    assert reopen.status_code == 409, reopen.text  # it is open: the ticket's rules refuse
    text, after = await scrape(desk)
    for _ in range(100):  # counted once the worker has published the opening
        opened = await scrape_worker(desk)
        if moved(opened_before, opened, "ticketflow_tickets_created_total", source="api"):
            break
        await asyncio.sleep(0.1)
    assert moved(opened_before, opened, "ticketflow_tickets_created_total", source="api") == 1
    commands = "ticketflow_commands_total"
    assert moved(before, after, commands, action="assign", outcome="applied") == 1
    assert moved(before, after, commands, action="assign", outcome="refused") == 1
    assert moved(before, after, commands, action="reopen", outcome="refused") == 1
    assert ALICE not in text and not [v for v in label_values(after) if "@" in v]


async def test_the_worker_counts_an_escalation_with_its_lateness(desk: Desk) -> None:
    before = await scrape_worker(desk)
    number = await open_ticket(desk, "outage")
    await escalated(desk, number)
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(desk.worker_metrics)
    assert response.status_code == 200
    after = samples(response.text)
    clock = {"clock": "first_response"}
    assert moved(before, after, "ticketflow_escalations_total", **clock) == 1
    assert moved(before, after, "ticketflow_escalation_lateness_seconds_count", **clock) == 1
    # Published within seconds of its due time, on this machine.
    late = moved(before, after, "ticketflow_escalation_lateness_seconds_sum", **clock)
    assert 0 <= late < 30
    assert ALICE not in response.text and not [v for v in label_values(after) if "@" in v]


async def escalated(desk: Desk, number: str) -> None:
    """Until the ticket's escalation is on its published timeline."""
    for _ in range(300):
        response = await desk.intake.get(f"{TICKETS}/{number}/timeline", headers=JANE)
        assert response.status_code == 200, response.text
        if any(e["kind"] == "escalated" for e in response.json()["events"]):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"ticket {number} did not escalate")
