"""Issue 3 end to end: ladders in business time, pausing, plan edits, reports."""

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import JANE, eventually, notifications, open_ticket

pytestmark = pytest.mark.e2e


def ticket(api: httpx.Client, number: str) -> dict[str, Any]:
    data: dict[str, Any] = api.get(f"/api/v1/tickets/{number}", headers=JANE).json()
    return data


def test_business_time_plan_escalates_through_two_ladder_steps(
    api: httpx.Client, notify: httpx.Client
) -> None:
    number = open_ticket(api, "Payments gateway timing out", topic="outage-ladder")["number"]
    state = eventually(
        lambda: (t := ticket(api, number))["escalation_level"] >= 2 and t,
        timeout=40,
        what="two ladder steps",
    )
    assert state["overdue"] and state["sla_breached"] and state["sla_timezone"] == "UTC"
    timeline = api.get(f"/api/v1/tickets/{number}/timeline", headers=JANE).json()["events"]
    steps = [e["detail"]["step"] for e in timeline if e["kind"] == "escalated"]
    assert steps == ["L1", "L2"]
    # L1 went to the owner (unassigned, so the team lead: Jane), L2 to the named agent (John).
    escalations = eventually(
        lambda: (
            len(
                got := [
                    n["recipient"]["email"]
                    for n in notifications(notify, number)
                    if n["kind"] == "escalation" and n["status"] == "sent"
                ]
            )
            >= 2
            and got
        ),
        what="escalation notices",
    )
    assert sorted(escalations) == ["jane@example.com", "john@example.com"]


def test_pending_ticket_does_not_escalate_while_paused(api: httpx.Client) -> None:
    created = open_ticket(api, "Need your account statement", topic="waiting-on-customer")
    number = created["number"]
    r = api.post(f"/api/v1/tickets/{number}/pending", json={}, headers=JANE)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    paused = next(c for c in r.json()["clocks"] if c["clock"] == "resolution")
    assert paused["paused"] is True
    deadline = datetime.fromisoformat(created["resolution_due"]) + timedelta(seconds=4)
    while datetime.now(UTC) < deadline:  # well past the 6 s target, still paused
        state = ticket(api, number)
        assert state["escalation_level"] == 0 and not state["overdue"], state
        time.sleep(0.5)
    token = {"Authorization": f"Bearer {created['access_token']}"}
    r = api.post(f"/api/v1/tickets/{number}/replies", json={"message": "attached"}, headers=token)
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["status"] == "open" and state["escalation_level"] == 0
    # The paused time was added back: the new due time is later than the original one.
    assert datetime.fromisoformat(state["resolution_due"]) > deadline


def test_editing_a_plan_does_not_rewrite_running_tickets(api: httpx.Client) -> None:
    before = open_ticket(api, "VPN drops every hour", topic="network")
    plan = api.get("/api/v1/admin/sla-plans/default", headers=JANE).json()
    r = api.patch("/api/v1/admin/sla-plans/default", json={"first_response": "PT9H"}, headers=JANE)
    assert r.status_code == 200, r.text
    try:
        after = open_ticket(api, "VPN drops every hour again", topic="network")
        still = ticket(api, before["number"])
        assert still["first_response_due"] == before["first_response_due"]
        opened = datetime.fromisoformat(after["created_at"])
        assert datetime.fromisoformat(after["first_response_due"]) == opened + timedelta(hours=9)
    finally:
        api.patch(
            "/api/v1/admin/sla-plans/default",
            json={"first_response": plan["first_response"]},
            headers=JANE,
        )


def test_reports_count_what_the_workflows_recorded(api: httpx.Client) -> None:
    now = datetime.now(UTC)
    window = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
        "group_by": "help_topic",
    }

    def totals() -> dict[str, Any]:
        r = api.get("/api/v1/reports/sla", params=window, headers=JANE)
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["totals"]
        return data

    before = totals()
    number = open_ticket(api, "Report me", topic="account-access")["number"]
    api.post(f"/api/v1/tickets/{number}/replies", json={"message": "hi"}, headers=JANE)
    api.post(f"/api/v1/tickets/{number}/resolve", headers=JANE)
    after = eventually(
        lambda: (t := totals())["resolved"] == before["resolved"] + 1 and t,
        what="the resolution in the report",
    )
    assert after["opened"] == before["opened"] + 1
    assert after["first_response"]["count"] == before["first_response"]["count"] + 1
    csv = api.get("/api/v1/reports/sla", params={**window, "format": "csv"}, headers=JANE)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    period = {"from": window["from"], "to": window["to"]}
    agents = api.get("/api/v1/reports/agents", params=period, headers=JANE).json()["rows"]
    assert any(row["agent"] == "jane" and row["resolved"] >= 1 for row in agents)
