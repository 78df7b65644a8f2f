"""External references end to end, on the real stack over HTTP: a create with a reference
some ticket holds answers that ticket (200), racing creates with one reference make one ticket,
links are added and removed, and the list filter and the Temporal search attribute find them."""

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from services.devstack import Stack
from tests.e2e.conftest import JANE, eventually

pytestmark = pytest.mark.e2e

TICKETS = "/api/v1/tickets"


def body(subject: str, *refs: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "requester": {"name": "Ops Bot", "email": "ops-bot@example.com"},
        "subject": subject,
        "message": f"{subject}: see the linked issue",
        "help_topic": "online-banking",
        "source": "api",
        "external_refs": list(refs),
        **extra,
    }


def jira(key: str) -> dict[str, str]:
    return {"system": "jira", "id": key, "url": f"https://jira.example.com/browse/{key}"}


def labels(ticket: dict[str, Any]) -> list[str]:
    return [f"{ref['system']}:{ref['id']}" for ref in ticket["external_refs"]]


def found(api: httpx.Client, external: str) -> list[str]:
    response = api.get(TICKETS, params={"external": external}, headers=JANE)
    assert response.status_code == 200, response.text
    return [item["number"] for item in response.json()["items"]]


def workflows_with(stack: Stack, query: str) -> list[str]:
    async def listed() -> list[str]:
        client = await stack.temporal_client()
        return [execution.id async for execution in client.list_workflows(query)]

    return asyncio.run(listed())


def test_a_reference_finds_its_ticket_and_racing_creates_make_one(
    stack: Stack, api: httpx.Client
) -> None:
    first = api.post(TICKETS, json=body("Payments API 500s", jira("OPS-1")), headers=JANE)
    assert first.status_code == 201, first.text
    number = first.json()["number"]
    assert labels(first.json()) == ["jira:OPS-1"]
    # The integration sends its issue again, edited: the same ticket, 200.
    again = api.post(TICKETS, json=body("Payments API 500s (edited)", jira("OPS-1")), headers=JANE)
    assert again.status_code == 200, again.text
    assert again.json()["number"] == number
    assert again.json()["subject"] == "Payments API 500s"
    assert again.json()["access_token"] == first.json()["access_token"]
    refused = body("Payments again", jira("OPS-1"), on_duplicate_external_ref="reject")
    response = api.post(TICKETS, json=refused, headers=JANE)
    assert response.status_code == 409 and number in response.text

    # Eight creates at once with one new reference, each with its own subject: one ticket.
    def create(n: int) -> httpx.Response:
        with httpx.Client(base_url=stack.intake_url, timeout=30) as client:
            return client.post(
                TICKETS, json=body(f"Outage report {n}", jira("OPS-2")), headers=JANE
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(create, range(8)))
    assert sorted(r.status_code for r in answers) == [200] * 7 + [201], [r.text for r in answers]
    numbers = {r.json()["number"] for r in answers}
    assert len(numbers) == 1 and number not in numbers
    [racer] = numbers
    assert eventually(lambda: found(api, "jira:OPS-2"), what="OPS-2 listed") == [racer]

    # Links: added, refused where another ticket holds the reference, removed.
    crm = {"system": "crm", "id": f"case/{uuid.uuid4().hex[:6]}"}
    linked = api.post(f"{TICKETS}/{number}/links", json=crm, headers=JANE)
    assert linked.status_code == 200, linked.text
    assert labels(linked.json()) == ["jira:OPS-1", f"crm:{crm['id']}"]
    taken = api.post(f"{TICKETS}/{racer}/links", json=crm, headers=JANE)
    assert taken.status_code == 409 and f"linked to ticket {number}" in taken.text
    assert eventually(lambda: found(api, f"crm:{crm['id']}"), what="crm listed") == [number]
    assert found(api, "jira:OPS-1") == [number]
    assert found(api, "jira:OPS-3") == []

    # The Temporal UI's query finds the workflow by its attribute.
    query = "TicketExternalRef = 'jira:OPS-1'"
    assert eventually(lambda: workflows_with(stack, query), what=query) == [f"ticket-{number}"]

    # Unlinked (the id percent-encoded, slash and all), the reference is free for another.
    path = f"{TICKETS}/{number}/links/crm/{crm['id'].replace('/', '%2F')}"
    unlinked = api.delete(path, headers=JANE)
    assert unlinked.status_code == 200, unlinked.text
    assert labels(unlinked.json()) == ["jira:OPS-1"]
    assert api.delete(path, headers=JANE).status_code == 404
    assert eventually(lambda: not found(api, f"crm:{crm['id']}"), what="crm unlisted")
    moved = api.post(f"{TICKETS}/{racer}/links", json=crm, headers=JANE)
    assert moved.status_code == 200, moved.text
    read = api.get(f"{TICKETS}/{racer}", headers=JANE).json()
    assert labels(read) == ["jira:OPS-2", f"crm:{crm['id']}"]

    # A closed ticket takes link changes too (it stays closed): no reference is stuck on it.
    assert api.post(f"{TICKETS}/{racer}/close", headers=JANE).status_code == 200
    unlinked = api.delete(f"{TICKETS}/{racer}/links/jira/OPS-2", headers=JANE)
    assert unlinked.status_code == 200, unlinked.text
    assert unlinked.json()["status"] == "closed"
    assert labels(unlinked.json()) == [f"crm:{crm['id']}"]
    assert eventually(lambda: not found(api, "jira:OPS-2"), what="OPS-2 unlisted")
    fresh = api.post(TICKETS, json=body("OPS-2 is back", jira("OPS-2")), headers=JANE)
    assert fresh.status_code == 201, fresh.text
    assert fresh.json()["number"] not in (number, racer)
