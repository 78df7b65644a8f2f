"""The osTicket seed story, end to end over HTTP against the real stack."""

from typing import Any

import httpx
import pytest

from services.devstack import Stack
from tests.e2e.conftest import JANE, JOHN, eventually, notifications, open_ticket

pytestmark = pytest.mark.e2e
JANE_EMAIL = "jane@example.com"


def kinds(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted((n["kind"], n["recipient"]["email"]) for n in items if n["status"] == "sent")


def test_seed_story(api: httpx.Client, notify: httpx.Client, stack: Stack) -> None:
    banking = open_ticket(api, "Online banking system down")
    vpn = open_ticket(api, "Cannot connect to the VPN", topic="network")
    locked = open_ticket(api, "Locked out of my account", topic="account-access")
    assert banking["status"] == "open" and banking["access_token"]
    assert len(banking["number"]) == 6

    # Jane sees the new tickets in her list (the projection).
    def listed() -> list[str] | None:
        page = api.get("/api/v1/tickets", params={"status": "open"}, headers=JANE).json()
        numbers = {t["number"] for t in page["items"]}
        wanted = {banking["number"], vpn["number"], locked["number"]}
        return sorted(wanted) if wanted <= numbers else None

    eventually(listed, what="three tickets in the list")

    # Jane takes the banking outage herself and raises it to Emergency.
    n1 = banking["number"]
    r = api.post(f"/api/v1/tickets/{n1}/assign", json={"agent": "jane"}, headers=JANE)
    assert r.status_code == 200, r.text
    r = api.post(f"/api/v1/tickets/{n1}/priority", json={"priority": "emergency"}, headers=JANE)
    assert r.status_code == 200 and r.json()["priority"] == "emergency"
    assert r.json()["first_response_due"] < banking["first_response_due"]

    # ...and assigns the VPN ticket to John.
    n2 = vpn["number"]
    r = api.post(f"/api/v1/tickets/{n2}/assign", json={"agent": "john"}, headers=JANE)
    assert r.status_code == 200 and r.json()["assignee"] == "john"

    # Conversation: a public response, an internal note, the requester's reply.
    r = api.post(f"/api/v1/tickets/{n1}/replies", json={"message": "We are on it."}, headers=JANE)
    assert r.status_code == 200
    r = api.post(
        f"/api/v1/tickets/{n1}/notes", json={"message": "Load balancer down"}, headers=JANE
    )
    assert r.status_code == 200
    requester = {"Authorization": f"Bearer {banking['access_token']}"}
    r = api.post(f"/api/v1/tickets/{n1}/replies", json={"message": "Thanks!"}, headers=requester)
    assert r.status_code == 200, r.text
    seen = api.get(f"/api/v1/tickets/{n1}", headers=requester).json()
    assert [e["kind"] for e in seen["thread"]] == ["message", "response", "message"]
    full = api.get(f"/api/v1/tickets/{n1}", headers=JANE).json()
    assert [e["kind"] for e in full["thread"]] == ["message", "response", "note", "message"]

    # John works his ticket; Jane resolves and closes hers.
    r = api.post(f"/api/v1/tickets/{n2}/replies", json={"message": "Try again now"}, headers=JOHN)
    assert r.status_code == 200
    r = api.post(
        f"/api/v1/tickets/{n2}/resolve", json={"resolution": "VPN restarted"}, headers=JOHN
    )
    assert r.json()["status"] == "resolved"
    r = api.post(f"/api/v1/tickets/{n1}/resolve", json={"resolution": "LB replaced"}, headers=JANE)
    assert r.json()["status"] == "resolved"
    r = api.post(f"/api/v1/tickets/{n1}/close", headers=JANE)
    assert r.status_code == 200 and r.json()["status"] == "closed"

    timeline = api.get(f"/api/v1/tickets/{n1}/timeline", headers=JANE).json()["events"]
    story = [e["kind"] for e in timeline if e["kind"] not in ("notification_sent",)]
    for kind in ("created", "assigned", "priority_changed", "responded", "noted",
                 "requester_replied", "resolved", "closed"):  # fmt: skip
        assert kind in story

    # The requester heard about receipt, the response, resolution and closure.
    alice = "alice@example.com"
    want = {("ticket_received", alice), ("response", alice), ("resolved", alice), ("closed", alice)}
    got = eventually(
        lambda: (k := set(kinds(notifications(notify, n1)))) >= want and k, what="notices"
    )
    # The only assignment alert is the team lead's, when the help topic routed the new ticket
    # to the Online Banking team; Jane taking it herself told nobody.
    assert [k for k in got if k[0] == "assigned"] == [("assigned", JANE_EMAIL)]
    eventually(
        lambda: ("assigned", "john@example.com") in (k := kinds(notifications(notify, n2))) and k,
        what="john's assignment alert",
    )
    # And the mail really went out through SMTP into the sink.
    mails = eventually(lambda: list((stack.var / "mail").glob("*.eml")), what="mails")
    assert any(n1 in path.read_text(errors="replace") for path in mails)


def test_unanswered_ticket_escalates_on_short_plan(api: httpx.Client, notify: httpx.Client) -> None:
    ticket = open_ticket(api, "Branch network outage", topic="outage-fast")
    number = ticket["number"]

    def escalated() -> dict[str, Any] | None:
        state = api.get(f"/api/v1/tickets/{number}", headers=JANE).json()
        return state if state["escalation_level"] >= 1 else None

    state = eventually(escalated, timeout=30, what="escalation")
    assert state["overdue"] is True
    eventually(
        lambda: any(
            t["number"] == number
            for t in api.get("/api/v1/tickets", params={"overdue": "true"}, headers=JANE).json()[
                "items"
            ]
        ),
        what="overdue in list",
    )
    # Unassigned, in online-banking: the department manager (Jane) hears of it.
    eventually(
        lambda: any(n["kind"] == "escalation" for n in notifications(notify, number)),
        what="escalation notice",
    )


def test_the_change_feed_serves_every_event_once_and_resumes(api: httpx.Client) -> None:
    """An integration pages through the feed, stores its cursor, and resumes from it."""
    ticket = open_ticket(api, "Printer on fire")
    number = ticket["number"]
    requester = {"Authorization": f"Bearer {ticket['access_token']}"}
    assert api.get("/api/v1/events", headers=requester).status_code == 401
    assert api.get("/api/v1/events", params={"after": "nonsense"}, headers=JANE).status_code == 422
    assert api.get("/api/v1/events", params={"types": "ticket.x"}, headers=JANE).status_code == 422

    def drain(cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        served: list[dict[str, Any]] = []
        while True:
            params: dict[str, str | int] = {"limit": 7}
            if cursor:
                params["after"] = cursor
            page = api.get("/api/v1/events", params=params, headers=JANE).json()
            served += page["events"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return served, cursor

    def published() -> tuple[list[dict[str, Any]], str | None] | None:
        served, cursor = drain(None)
        return (served, cursor) if f"{number}-1" in {e["id"] for e in served} else None

    before, cursor = eventually(published, what="the ticket's creation in the feed")
    assert len({e["id"] for e in before}) == len(before)
    created = [e for e in before if e["id"] == f"{number}-1"]
    assert created[0]["type"] == "ticket.created" and created[0]["snapshot"]["number"] == number
    r = api.post(f"/api/v1/tickets/{number}/notes", json={"message": "smoke"}, headers=JANE)
    assert r.status_code == 200
    r = api.post(f"/api/v1/tickets/{number}/replies", json={"message": "Out!"}, headers=JANE)
    assert r.status_code == 200

    def resumed() -> list[dict[str, Any]] | None:
        after, _ = drain(cursor)
        return after if len([e for e in after if e["ticket"] == number]) >= 2 else None

    after = eventually(resumed, what="the new events after the stored cursor")
    mine = [e for e in after if e["ticket"] == number]
    assert [e["type"] for e in mine] == ["ticket.noted", "ticket.responded"]
    assert mine[0]["internal"] is True and mine[0]["message"]["body"] == "smoke"
    assert mine[1]["internal"] is False and mine[1]["message"]["body"] == "Out!"
    assert not {e["id"] for e in after} & {e["id"] for e in before}
    notes = api.get("/api/v1/events", params={"types": "ticket.noted"}, headers=JANE).json()
    assert {e["type"] for e in notes["events"]} == {"ticket.noted"}
