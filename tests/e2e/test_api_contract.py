"""Auth, bad input and idempotent creation, over HTTP against the real stack."""

import email
import email.policy
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from services.devstack import Stack
from tests.e2e.conftest import JANE, JOHN, VERA, eventually, notifications, open_ticket

pytestmark = pytest.mark.e2e


def test_health_checks_are_real(api: httpx.Client, notify: httpx.Client) -> None:
    body = api.get("/healthz").json()
    assert body["checks"] == {"database": "ok", "temporal": "ok"}
    assert notify.get("/healthz").status_code == 200


def test_protected_paths_need_credentials(api: httpx.Client) -> None:
    number = open_ticket(api, "Printer on fire")["number"]
    assert api.get("/api/v1/tickets").status_code == 401
    assert api.get(f"/api/v1/tickets/{number}").status_code == 401
    assert api.post(f"/api/v1/tickets/{number}/close").status_code == 401
    bogus = {"Authorization": "Bearer not-a-token"}
    assert api.get("/api/v1/tickets", headers=bogus).status_code == 401
    assert api.get("/api/v1/admin/agents").status_code == 401


def test_viewer_reads_but_cannot_change(api: httpx.Client) -> None:
    number = open_ticket(api, "Email bouncing")["number"]
    assert api.get(f"/api/v1/tickets/{number}", headers=VERA).status_code == 200
    for path, body in [
        ("assign", {"agent": "john"}),
        ("priority", {"priority": "high"}),
        ("replies", {"message": "hi"}),
        ("notes", {"message": "hi"}),
        ("resolve", {}),
        ("close", None),
    ]:
        r = api.post(f"/api/v1/tickets/{number}/{path}", json=body, headers=VERA)
        assert r.status_code == 403, (path, r.text)
    assert api.get("/api/v1/admin/agents", headers=JOHN).status_code == 403
    assert api.get("/api/v1/admin/agents", headers=JANE).status_code == 200


def test_requester_sees_only_their_ticket_and_no_notes(api: httpx.Client) -> None:
    mine = open_ticket(api, "My laptop will not boot")
    other = open_ticket(api, "Someone else's issue")
    token = {"Authorization": f"Bearer {mine['access_token']}"}
    api.post(f"/api/v1/tickets/{mine['number']}/notes", json={"message": "secret"}, headers=JANE)
    body = api.get(f"/api/v1/tickets/{mine['number']}", headers=token).json()
    assert all(entry["kind"] != "note" for entry in body["thread"])
    assert api.get(f"/api/v1/tickets/{other['number']}", headers=token).status_code == 401
    assert api.get("/api/v1/tickets", headers=token).status_code == 401
    assert api.get(f"/api/v1/tickets/{mine['number']}/timeline", headers=token).status_code == 401
    r = api.post(f"/api/v1/tickets/{mine['number']}/notes", json={"message": "x"}, headers=token)
    assert r.status_code == 401
    r = api.post(f"/api/v1/tickets/{other['number']}/replies", json={"message": "x"}, headers=token)
    assert r.status_code == 401


def test_bad_input_gets_clear_errors_and_writes_nothing(api: httpx.Client) -> None:
    marker = f"bad-input-{uuid.uuid4().hex[:8]}"
    good = {
        "requester": {"name": "Bob", "email": "bob@example.com"},
        "subject": marker,
        "message": "m",
        "help_topic": "online-banking",
    }
    assert (
        api.post("/api/v1/tickets", json={**good, "requester": {"name": "Bob"}}).status_code == 422
    )
    assert api.post("/api/v1/tickets", json={**good, "priority": "urgent!"}).status_code == 422
    assert api.post("/api/v1/tickets", json={**good, "surprise": 1}).status_code == 422
    assert api.post("/api/v1/tickets", json={**good, "help_topic": "nope"}).status_code == 404
    assert (
        api.post(
            "/api/v1/tickets", content=b"{not json", headers={"Content-Type": "application/json"}
        ).status_code
        == 422
    )
    huge = {**good, "message": "x" * 200_000}
    assert api.post("/api/v1/tickets", json=huge).status_code == 413
    assert api.get("/api/v1/tickets/999999", headers=JANE).status_code == 404
    assert api.get("/api/v1/tickets/12", headers=JANE).status_code == 422
    assert api.post("/api/v1/tickets/999999/close", headers=JANE).status_code == 404

    number = open_ticket(api, "Keyboard missing keys")["number"]
    r = api.post(f"/api/v1/tickets/{number}/reopen", headers=JANE)
    assert r.status_code == 409 and "cannot reopen a open ticket" in r.json()["detail"]
    r = api.post(f"/api/v1/tickets/{number}/assign", json={"agent": "ghost"}, headers=JANE)
    assert r.status_code == 404
    r = api.post(f"/api/v1/tickets/{number}/assign", json={"agent": "vera"}, headers=JANE)
    assert r.status_code == 409
    r = api.post(f"/api/v1/tickets/{number}/replies", json={"message": ""}, headers=JANE)
    assert r.status_code == 422
    r = api.post(f"/api/v1/tickets/{number}/transfer", json={"department": "nowhere"}, headers=JANE)
    assert r.status_code == 404
    state = api.get(f"/api/v1/tickets/{number}", headers=JANE).json()
    assert state["assignee"] is None and len(state["thread"]) == 1
    # None of the refused creations left a ticket behind (the list is the projection).
    eventually(
        lambda: api.get("/api/v1/tickets", params={"q": number}, headers=JANE).json()["total"],
        what="the good ticket in the list",
    )
    assert api.get("/api/v1/tickets", params={"q": marker}, headers=JANE).json()["total"] == 0


def test_same_idempotency_key_concurrently_yields_one_ticket(api: httpx.Client) -> None:
    key = uuid.uuid4().hex
    subject = f"Duplicate submit {key[:6]}"
    body = {
        "requester": {"name": "Carol", "email": "carol@example.com"},
        "subject": subject,
        "message": "double click",
        "help_topic": "network",
    }

    def create(_: int) -> httpx.Response:
        return api.post("/api/v1/tickets", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(create, range(8)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["number"] for r in responses}) == 1
    page = eventually(
        lambda: api.get("/api/v1/tickets", params={"q": subject}, headers=JANE).json()["items"],
        what="the ticket in the list",
    )
    assert len(page) == 1
    other = api.post(
        "/api/v1/tickets", json={**body, "subject": "different"}, headers={"Idempotency-Key": key}
    )
    assert other.status_code == 422 and key in other.json()["detail"]


def test_repeated_command_with_idempotency_key_applies_once(api: httpx.Client) -> None:
    number = open_ticket(api, "Duplicate reply")["number"]
    headers = {**JANE, "Idempotency-Key": "reply-1"}
    for _ in range(3):
        r = api.post(f"/api/v1/tickets/{number}/replies", json={"message": "once"}, headers=headers)
        assert r.status_code == 200
    thread = api.get(f"/api/v1/tickets/{number}", headers=JANE).json()["thread"]
    assert [e["body"] for e in thread].count("once") == 1


def test_a_requester_writing_too_fast_gets_429_and_the_ticket_works_on(api: httpx.Client) -> None:
    created = open_ticket(api, "Chatty requester")
    ticket = f"/api/v1/tickets/{created['number']}"
    requester = {"Authorization": f"Bearer {created['access_token']}"}
    answers = [
        api.post(f"{ticket}/replies", json={"message": f"m{i}"}, headers=requester).status_code
        for i in range(21)
    ]
    assert answers == [200] * 20 + [429]
    assert api.post(f"{ticket}/notes", json={"message": "ok"}, headers=JANE).status_code == 200


def test_a_key_holds_after_its_ticket_closed(api: httpx.Client) -> None:
    key = {"Idempotency-Key": f"closed-{uuid.uuid4().hex}"}
    body = {
        "requester": {"name": "Dora", "email": "dora@example.com"},
        "subject": "Once only",
        "message": "please",
        "help_topic": "network",
    }
    first = api.post("/api/v1/tickets", json=body, headers=key).json()
    assert api.post(f"/api/v1/tickets/{first['number']}/close", headers=JANE).status_code == 200
    again = api.post("/api/v1/tickets", json=body, headers=key)
    assert again.status_code == 201 and again.json()["number"] == first["number"]
    assert again.json()["status"] == "closed"


def test_longer_numbers_are_well_formed_and_unknown_ones_are_404(api: httpx.Client) -> None:
    for number in ("1000000", "123456789012"):
        assert api.get(f"/api/v1/tickets/{number}", headers=JANE).status_code == 404
    assert api.get("/api/v1/tickets/12345", headers=JANE).status_code == 422


def test_no_credential_is_stored_with_a_notification_or_mailed_for_good(
    api: httpx.Client, notify: httpx.Client, stack: Stack
) -> None:
    """The acknowledgement links to the ticket's page with a credential signed at delivery:
    the stored notification holds none, and the permanent access token is in no mail and no
    log."""
    created = open_ticket(api, "Where is my token")
    number, token = created["number"], created["access_token"]
    received = eventually(
        lambda: [
            n
            for n in notifications(notify, number)
            if n["kind"] == "ticket_received" and n["status"] == "sent"
        ],
        what="the acknowledgement",
    )
    assert "tl1." not in received[0]["body"] and token not in received[0]["body"]
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in (stack.var / "mail").glob("*.eml")
    ]
    [acknowledgement] = [m for m in mails if str(m["Subject"]).startswith(f"[#{number}] We")]
    body = acknowledgement.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    assert f"{stack.web_url}/t/{number}?k=tl1.{number}." in text
    assert not any(token in m.as_string() for m in mails)
    logs = "".join(p.read_text(errors="replace") for p in stack.var.glob("*.log"))
    assert token not in logs


def test_a_read_right_after_create_shows_the_ticket(api: httpx.Client) -> None:
    def create_then_read(i: int) -> tuple[int, dict[str, object]]:
        created = open_ticket(api, f"Read me at once {i}")
        token = {"Authorization": f"Bearer {created['access_token']}"}
        read = api.get(f"/api/v1/tickets/{created['number']}", headers=token)
        return read.status_code, read.json()

    with ThreadPoolExecutor(max_workers=8) as pool:
        reads = list(pool.map(create_then_read, range(16)))
    for status, body in reads:
        assert status == 200, body
        thread = body["thread"]
        assert isinstance(thread, list) and len(thread) == 1
