"""The worker killed with SIGKILL mid-lifecycle loses nothing and sends nothing twice."""

import asyncio
import email
import subprocess
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from services.devstack import Stack
from tests.e2e.conftest import JANE, ROOT, eventually, notifications, open_ticket

pytestmark = pytest.mark.e2e


def test_worker_sigkill_loses_nothing_and_sends_nothing_twice(
    api: httpx.Client, notify: httpx.Client, stack: Stack
) -> None:
    tickets = [open_ticket(api, f"Crash test {i}")["number"] for i in range(3)]
    for number in tickets:
        r = api.post(f"/api/v1/tickets/{number}/replies", json={"message": "ack"}, headers=JANE)
        assert r.status_code == 200
    stack.kill("worker")  # (what a command answers meanwhile: test_answers_are_definitive_…)
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


def test_answers_are_definitive_when_the_worker_dies(api: httpx.Client, stack: Stack) -> None:
    """A 503 means not applied, for good; a retry with the key applies once and then repeats
    the first outcome; a retry without a key applies once; a reused key is refused."""
    number = open_ticket(api, "Definitive answers")["number"]
    ticket = f"/api/v1/tickets/{number}"
    assert api.post(f"{ticket}/notes", json={"message": "before"}, headers=JANE).status_code == 200
    stack.kill("worker")
    keyed = {**JANE, "Idempotency-Key": "assign-under-fault"}
    with ThreadPoolExecutor(max_workers=2) as pool:
        assigned = pool.submit(api.post, f"{ticket}/assign", json={"agent": "john"}, headers=keyed)
        noted = pool.submit(api.post, f"{ticket}/notes", json={"message": "unkeyed"}, headers=JANE)
        answers = [assigned.result(), noted.result()]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json()["applied"] is False
    stack.start_worker()
    # The worker is back and has seen both commands: neither applied, and neither ever will.
    eventually(
        lambda: (
            api.post(f"{ticket}/notes", json={"message": "after"}, headers=JANE).status_code == 200
        ),
        timeout=60,
        what="the restarted worker",
    )
    state = api.get(ticket, headers=JANE).json()
    assert state["assignee"] is None
    assert [e["body"] for e in state["thread"]].count("unkeyed") == 0
    # The keyed retry applies once; retried again it answers the first outcome, not a 409.
    for _ in range(2):
        again = api.post(f"{ticket}/assign", json={"agent": "john"}, headers=keyed)
        assert again.status_code == 200, again.text
        assert again.json()["assignee"] == "john"
    # The same key for another request is refused, and changes nothing.
    other = api.post(f"{ticket}/assign", json={"agent": "jane"}, headers=keyed)
    assert other.status_code == 422, other.text
    # Without a key, the client's retry of the 503 applies once.
    assert api.post(f"{ticket}/notes", json={"message": "unkeyed"}, headers=JANE).status_code == 200
    state = api.get(ticket, headers=JANE).json()
    assert state["assignee"] == "john"
    assert [e["body"] for e in state["thread"]].count("unkeyed") == 1
    timeline = api.get(f"{ticket}/timeline", headers=JANE).json()["events"]
    assert [e["kind"] for e in timeline].count("assigned") == 2  # at creation, and john once


def test_a_terminated_run_is_an_alert_and_recovers(api: httpx.Client, stack: Stack) -> None:
    number = open_ticket(api, "Terminated by mistake")["number"]
    ticket = f"/api/v1/tickets/{number}"
    assert api.post(f"{ticket}/assign", json={"agent": "john"}, headers=JANE).status_code == 200

    async def terminate() -> None:
        client = await stack.temporal_client()
        await client.get_workflow_handle(f"ticket-{number}").terminate(reason="operator slip")

    asyncio.run(terminate())
    alerts = api.get("/api/v1/admin/alerts", headers=JANE).json()
    assert {"ticket": number, "problem": "its workflow is terminated"}.items() <= next(
        a for a in alerts["tickets"] if a["ticket"] == number
    ).items()
    doctor = [str(ROOT / ".venv/bin/ticketflow"), "doctor"]
    found = subprocess.run(doctor, env=stack.env, capture_output=True, text=True, timeout=60)
    assert found.returncode == 1 and f"ticket {number}: its workflow is terminated" in found.stdout
    fixed = subprocess.run(
        [*doctor, "--recover"], env=stack.env, capture_output=True, text=True, timeout=60
    )
    assert fixed.returncode == 0, fixed.stderr
    # The ticket goes on from where its projection was: assigned to john, and it takes commands.
    r = api.post(f"{ticket}/replies", json={"message": "back"}, headers=JANE)
    assert r.status_code == 200 and r.json()["assignee"] == "john"
    alerts = api.get("/api/v1/admin/alerts", headers=JANE).json()
    assert all(a["ticket"] != number for a in alerts["tickets"])
