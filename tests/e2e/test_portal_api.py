"""What the portal needs of the API, on the real stack: a lost link mailed again (the same
answer for a match and a miss), the requester closing and rating their ticket once per
closure, the satisfaction report, and a link's credential reading exactly its own ticket."""

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.devstack import Stack
from shared.access import new_link_credential
from tests.e2e.conftest import JANE, eventually, notifications, open_ticket

pytestmark = pytest.mark.e2e


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def links_mailed(notify: httpx.Client, number: str) -> list[dict[str, Any]]:
    return [n for n in notifications(notify, number) if n["kind"] == "ticket_link"]


def test_a_lost_link_is_mailed_to_the_requester_and_a_miss_answers_the_same(
    api: httpx.Client, notify: httpx.Client
) -> None:
    ticket = open_ticket(api, "Card declined abroad")
    number = ticket["number"]
    miss = api.post("/api/v1/ticket-links", json={"number": number, "email": "eve@example.com"})
    unknown = api.post(
        "/api/v1/ticket-links", json={"number": "999999999", "email": "alice@example.com"}
    )
    hit = api.post(
        "/api/v1/ticket-links",
        json={"number": number, "email": "Alice@Example.com"},
        headers={"Idempotency-Key": "lost-link-1"},
    )
    assert miss.status_code == unknown.status_code == hit.status_code == 202, hit.text
    assert miss.json() == unknown.json() == hit.json()
    again = api.post(
        "/api/v1/ticket-links",
        json={"number": number, "email": "alice@example.com"},
        headers={"Idempotency-Key": "lost-link-1"},
    )
    assert again.status_code == 202
    [mailed] = eventually(lambda: links_mailed(notify, number), what="the link mail")
    assert mailed["recipient"]["email"] == "alice@example.com"
    # Three an hour at most: the fourth is answered alike and mails nothing.
    for i in range(3):
        body = {"number": number, "email": "alice@example.com"}
        assert api.post("/api/v1/ticket-links", json=body).status_code == 202, i
    eventually(lambda: len(links_mailed(notify, number)) == 3, what="three link mails")
    assert api.get(f"/api/v1/tickets/{number}/timeline", headers=JANE).status_code == 200


def test_the_requester_closes_and_rates_once_per_closure(stack: Stack, api: httpx.Client) -> None:
    ticket = open_ticket(api, "Statement missing")
    number, requester = ticket["number"], bearer(ticket["access_token"])
    closed = api.post(f"/api/v1/tickets/{number}/close", headers=requester)
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed" and closed.json()["rating"] is None
    by_agent = api.post(f"/api/v1/tickets/{number}/rating", json={"rating": "good"}, headers=JANE)
    assert by_agent.status_code == 403
    rated = api.post(
        f"/api/v1/tickets/{number}/rating",
        json={"rating": "good", "comment": "Sorted <b>fast</b>"},
        headers={**requester, "Idempotency-Key": "rate-1"},
    )
    assert rated.status_code == 200, rated.text
    assert rated.json()["rating"] == "good"
    repeated = api.post(
        f"/api/v1/tickets/{number}/rating",
        json={"rating": "good", "comment": "Sorted <b>fast</b>"},
        headers={**requester, "Idempotency-Key": "rate-1"},
    )
    assert repeated.status_code == 200  # the same request: one rating
    twice = api.post(f"/api/v1/tickets/{number}/rating", json={"rating": "bad"}, headers=requester)
    assert twice.status_code == 409, twice.text
    bad = api.post(f"/api/v1/tickets/{number}/rating", json={"rating": "meh"}, headers=requester)
    assert bad.status_code == 422
    # Reopened and closed again: it may be rated again.
    assert api.post(f"/api/v1/tickets/{number}/reopen", headers=JANE).status_code == 200
    assert api.get(f"/api/v1/tickets/{number}", headers=JANE).json()["rating"] is None
    assert api.post(f"/api/v1/tickets/{number}/close", headers=JANE).status_code == 200
    again = api.post(f"/api/v1/tickets/{number}/rating", json={"rating": "bad"}, headers=requester)
    assert again.status_code == 200, again.text

    def report() -> dict[str, Any] | None:
        now = datetime.now(UTC)
        window = {"from": (now - timedelta(hours=1)).isoformat(), "to": now.isoformat()}
        answer = api.get(
            "/api/v1/reports/satisfaction",
            params={**window, "group_by": "help_topic"},
            headers=JANE,
        )
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        mine = [c for c in data["comments"] if c["ticket"] == number]
        return data if mine else None

    data = eventually(report, what="the rating in the report facts")
    [comment] = [c for c in data["comments"] if c["ticket"] == number]
    assert comment == {**comment, "rating": "good", "text": "Sorted <b>fast</b>"}
    row = next(r for r in data["rows"] if r["group"] == "online-banking")
    assert row["good"] >= 1 and row["bad"] >= 1 and row["rated"] == row["good"] + row["bad"]
    events = api.get(f"/api/v1/tickets/{number}/timeline", headers=JANE).json()["events"]
    assert [e["detail"]["rating"] for e in events if e["kind"] == "rated"] == ["good", "bad"]


def test_a_link_credential_reads_its_own_ticket_only_until_it_expires(
    stack: Stack, api: httpx.Client
) -> None:
    mine = open_ticket(api, "Locked out")["number"]
    other = open_ticket(api, "Someone else's")["number"]
    secret, now = stack.env["SECRET_KEY"], datetime.now(UTC)
    fresh = new_link_credential(secret, mine, now=now, lifetime=timedelta(days=30))
    stale = new_link_credential(
        secret, mine, now=now - timedelta(days=31), lifetime=timedelta(days=30)
    )
    assert api.get(f"/api/v1/tickets/{mine}", headers=bearer(fresh)).status_code == 200
    assert api.get(f"/api/v1/tickets/{other}", headers=bearer(fresh)).status_code == 401
    assert api.get(f"/api/v1/tickets/{mine}", headers=bearer(stale)).status_code == 401
    tampered = fresh[:-2] + ("AA" if not fresh.endswith("AA") else "BB")
    assert api.get(f"/api/v1/tickets/{mine}", headers=bearer(tampered)).status_code == 401
