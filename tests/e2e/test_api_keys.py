"""An integration's API key on the real stack, on both databases: it opens and commands a
ticket under its own name, If-Match with a stale version is 412 while the current one applies,
and a revoked key is refused at once."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.devstack import Stack
from tests.e2e.conftest import JANE, eventually

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.intake_url, timeout=30) as client:
        yield client


def test_a_key_opens_and_commands_a_ticket_with_if_match(api: httpx.Client) -> None:
    body = {"name": "crm", "scopes": ["tickets:create", "tickets:write"]}
    created = api.post("/api/v1/admin/api-keys", json=body, headers=JANE)
    assert created.status_code == 201, created.text
    key = {"Authorization": f"Bearer {created.json()['key']}"}

    ticket = api.post(
        "/api/v1/tickets",
        json={
            "requester": {"name": "Alice", "email": "alice@example.com"},
            "subject": "Card blocked (from the CRM)",
            "message": "Opened by the CRM integration.",
            "help_topic": "online-banking",
            "source": "api",
        },
        headers=key,
    )
    assert ticket.status_code == 201, ticket.text
    number, opened = ticket.json()["number"], ticket.json()["version"]
    path = f"/api/v1/tickets/{number}"

    assigned = api.post(
        f"{path}/assign", json={"agent": "john"}, headers={**key, "If-Match": f'"{opened}"'}
    )
    assert assigned.status_code == 200, assigned.text
    current = assigned.json()["version"]
    assert assigned.json()["assignee"] == "john" and current > opened
    assert assigned.headers["etag"] == f'"{current}"'

    stale = api.post(
        f"{path}/priority",
        json={"priority": "emergency"},
        headers={**key, "If-Match": f'"{opened}"'},
    )
    assert stale.status_code == 412, stale.text
    assert f"at version {current}, not {opened}" in stale.json()["detail"]
    applied = api.post(
        f"{path}/priority",
        json={"priority": "emergency"},
        headers={**key, "If-Match": f'"{current}"'},
    )
    assert applied.status_code == 200, applied.text
    assert applied.json()["priority"] == "emergency" and applied.json()["version"] == current + 1

    # Without tickets:read the key may not read the ticket; an agent sees who acted.
    assert api.get(path, headers=key).status_code == 403

    def by_the_key() -> list[dict[str, Any]] | None:
        timeline = api.get(f"{path}/timeline", headers=JANE).json()["events"]
        mine = [e for e in timeline if e["actor"]["kind"] == "integration"]
        return mine if len(mine) == 2 else None  # the projection follows by a moment

    events = eventually(by_the_key, what="the key's events")
    assert [e["kind"] for e in events] == ["assigned", "priority_changed"]
    assert {e["actor"]["name"] for e in events} == {"crm"}

    revoked = api.delete(f"/api/v1/admin/api-keys/{created.json()['id']}", headers=JANE)
    assert revoked.status_code == 200
    assert api.post(f"{path}/notes", json={"message": "x"}, headers=key).status_code == 401
    audit = api.get("/api/v1/admin/audit", params={"entity": "api_key"}, headers=JANE).json()
    assert [e["action"] for e in audit["items"]] == ["revoked", "created"]
