"""The worker killed with SIGKILL mid-lifecycle loses nothing and sends nothing twice."""

import email
from collections import Counter
from typing import Any

import httpx
import pytest

from services.devstack import Stack
from tests.e2e.conftest import JANE, eventually, notifications, open_ticket

pytestmark = pytest.mark.e2e


def test_worker_sigkill_loses_nothing_and_sends_nothing_twice(
    api: httpx.Client, notify: httpx.Client, stack: Stack
) -> None:
    tickets = [open_ticket(api, f"Crash test {i}")["number"] for i in range(3)]
    for number in tickets:
        r = api.post(f"/api/v1/tickets/{number}/replies", json={"message": "ack"}, headers=JANE)
        assert r.status_code == 200
    stack.kill("worker")
    # With no worker the validated path cannot answer: a clear 503, not a hang or a 500.
    r = api.post(f"/api/v1/tickets/{tickets[0]}/notes", json={"message": "x"}, headers=JANE)
    assert r.status_code == 503
    stack.start_worker()
    # Until the new worker has picked the tickets up, commands may still answer 503; a client
    # retries with the same Idempotency-Key, and each command applies once.
    for number in tickets:
        for action in ("resolve", "close"):
            headers = {**JANE, "Idempotency-Key": f"{action}-{number}"}
            eventually(
                lambda a=action, h=headers, n=number: (
                    api.post(f"/api/v1/tickets/{n}/{a}", headers=h).status_code == 200
                ),
                timeout=60,
                what=f"{action} {number}",
            )

    want = {"ticket_received", "response", "resolved", "closed"}

    def delivered(number: str) -> list[dict[str, Any]] | None:
        items = notifications(notify, number)
        return items if want <= {n["kind"] for n in items if n["status"] == "sent"} else None

    for number in tickets:
        items = eventually(lambda n=number: delivered(n), timeout=60, what=f"notices of {number}")
        keys = Counter(n["idempotency_key"] for n in items)
        assert max(keys.values()) == 1
        state = api.get(f"/api/v1/tickets/{number}", headers=JANE).json()
        assert state["status"] == "closed"
        assert [e["body"] for e in state["thread"]].count("ack") == 1

    mail_keys = Counter(
        email.message_from_bytes(path.read_bytes())["X-Ticketflow-Idempotency-Key"]
        for path in (stack.var / "mail").glob("*.eml")
    )
    assert mail_keys and max(mail_keys.values()) == 1, "a notification was mailed twice"
