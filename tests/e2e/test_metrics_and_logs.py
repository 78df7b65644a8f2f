"""Metrics and logs of the real stack, every service a process of its own, with LOG_FORMAT=json:
each HTTP service answers GET /metrics, each worker process serves ticketflow's metrics and
the Temporal SDK's on ports of their own, an escalation moves the worker's counter, no label
holds a requester's address, and every log line is one JSON object that names no person."""

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.devstack import Stack
from tests.e2e.conftest import JANE, eventually, open_ticket, started_stack

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "notify", "web", "worker", "mail-in")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    var = tmp_path_factory.mktemp("stack-json-logs")
    with started_stack("sqlite", var, extra_env={"LOG_FORMAT": "json"}) as s:
        yield s


def endpoints(stack: Stack) -> dict[str, str]:
    assert stack.worker_metrics_port and stack.worker_sdk_metrics_port
    return {
        "intake": f"{stack.intake_url}/metrics",
        "notify": f"{stack.notify_url}/metrics",
        "web": f"{stack.web_url}/metrics",
        "worker": f"http://127.0.0.1:{stack.worker_metrics_port}/metrics",
        "worker SDK": f"http://127.0.0.1:{stack.worker_sdk_metrics_port}/metrics",
    }


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Each metric family's name (with no samples: none counted yet) and each sample's."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, f"{url}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("text/plain"), url
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        found.setdefault(family.name, {})
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def test_every_service_and_the_worker_serve_their_metrics(stack: Stack) -> None:
    found = {name: scrape(url) for name, url in endpoints(stack).items()}
    for name in ("intake", "notify", "web", "worker"):
        assert "process_cpu_seconds" in found[name], name
    # The portal acts through intake's API: intake counts what it does.
    for name in ("intake", "notify", "worker"):
        assert "ticketflow_commands" in found[name], name
    assert found["notify"]["ticketflow_database_metrics_up"] == {(): 1.0}
    assert "ticketflow_outbox_notifications" in found["notify"]
    sdk = [name for name in found["worker SDK"] if name.startswith("temporal_")]
    assert "temporal_request" in sdk, sdk  # the worker's calls to the Temporal server


def test_an_escalation_moves_the_worker_counter_and_no_label_names_a_person(
    stack: Stack, api: httpx.Client
) -> None:
    worker = endpoints(stack)["worker"]
    clock = (("clock", "first_response"),)

    def escalations() -> float:
        return scrape(worker).get("ticketflow_escalations_total", {}).get(clock, 0.0)

    before = escalations()
    ticket = open_ticket(api, f"breach {uuid.uuid4().hex[:6]}", topic="outage-fast")
    eventually(lambda: escalations() > before, timeout=40, what="the escalation's count")
    assert scrape(worker)["ticketflow_escalation_lateness_seconds_count"][clock] >= 1
    created = scrape(worker)["ticketflow_tickets_created_total"]
    assert created[(("source", "web"),)] >= 1
    for name, url in endpoints(stack).items():
        text = httpx.get(url, timeout=10).text
        assert "alice@example.com" not in text and ticket["subject"] not in text, name


def test_every_log_line_is_json_naming_no_person(stack: Stack, api: httpx.Client) -> None:
    ticket = open_ticket(api, f"printer {uuid.uuid4().hex[:6]} jams")
    number = ticket["number"]
    read = api.get(f"/api/v1/tickets/{number}", headers=JANE, params={"q": "alice@example.com"})
    assert read.status_code == 200, read.text
    lines = eventually(lambda: access_lines(stack.var, number), what="the access log line")
    assert lines[0]["method"] == "GET" and lines[0]["status"] == 200
    time.sleep(1)  # the other services' lines of this ticket (notify's delivery, the worker's)
    for service in SERVICES:
        text = (stack.var / f"{service}.log").read_text()
        assert text.strip(), f"{service} logged nothing"
        for line in text.splitlines():
            entry = json.loads(line)  # fails on any line that is not one JSON object
            assert {"time", "level", "logger", "message"} <= set(entry), line
        assert "alice@example.com" not in text and ticket["subject"] not in text, service


def access_lines(var: Path, number: str) -> list[dict[str, object]]:
    entries = [json.loads(line) for line in (var / "intake.log").read_text().splitlines()]
    return [
        entry
        for entry in entries
        if entry["logger"] == "uvicorn.access"
        and entry.get("path") == f"/api/v1/tickets/{number}"
        and entry.get("ticket") == number
    ]
