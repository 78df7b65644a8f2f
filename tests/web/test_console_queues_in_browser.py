"""The console's queues live, in a real browser (Playwright driving Debian's Chromium) against
the real stack: a ticket opened through the API appears in Jane's Unassigned view without a
reload; Jane assigns it to John with the bulk form, and it appears in John's "My tickets"
without a reload. axe-core checks the pages after each live update."""

import json
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from services.devstack import Stack
from services.web.console.live import ROUTING
from tests.web.browsers import (
    JANE_TOKEN,
    accessible,
    errors_of,
    live_queue,
    loads_of,
)

pytestmark = pytest.mark.e2e


def test_a_new_ticket_and_an_assignment_show_up_without_a_reload(
    jane: Page, john: Page, stack: Stack
) -> None:
    web = stack.web_url
    jane_errors, john_errors = errors_of(jane), errors_of(john)
    live_queue(jane, f"{web}/agent?view=unassigned")
    live_queue(john, f"{web}/agent?view=mine")
    jane_loads, john_loads = loads_of(jane), loads_of(john)

    subject = f"Online banking system down {uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=stack.intake_url, timeout=30) as api:
        created = api.post(
            "/api/v1/tickets",
            json={
                "requester": {"name": "Alice Customer", "email": "alice@example.com"},
                "subject": subject,
                "message": "Nobody can sign in since 9:00.",
                "help_topic": "online-banking",
            },
        )
    assert created.status_code == 201, created.text
    number = created.json()["number"]

    row = jane.locator(f'tr[data-number="{number}"]')
    expect(row).to_contain_text(subject)
    expect(row).to_contain_text("Unassigned")
    expect(row.locator(".sla")).to_have_text(re.compile(r"^due in \d"))
    assert jane_loads == [], "Jane's page was reloaded"
    expect(jane.locator("#queue-live-status")).to_contain_text("1 ticket added")
    accessible(jane, "Jane's Unassigned view after a live update")

    # Jane assigns it to John with the bulk form.
    jane.get_by_label(f"Select ticket {number}").check()
    jane.get_by_label("Action").select_option("assign")
    jane.get_by_label("Agent (for assign)").fill("john")
    jane.get_by_role("button", name="Apply to the selected tickets").click()
    results = jane.locator("#bulk-results")
    expect(results).to_contain_text("1 of 1 applied")
    expect(results).to_contain_text(f"{number}: applied")
    accessible(jane, "Jane's queue with a bulk action's results")

    john_row = john.locator(f'tr[data-number="{number}"]')
    expect(john_row).to_contain_text(subject)
    expect(john_row).to_contain_text("john")
    assert john_loads == [], "John's page was reloaded"
    accessible(john, "John's My tickets after a live update")
    # Jane's own list moves on too: no longer unassigned, it leaves her Unassigned view.
    expect(jane.locator(f'tr[data-number="{number}"]')).to_have_count(0)
    assert jane_errors == [] and john_errors == []


def frames(response: httpx.Response) -> Iterator[dict[str, str]]:
    frame: dict[str, str] = {}
    for line in response.iter_lines():
        if line:
            name, _, value = line.partition(":")
            frame[name or "comment"] = value.strip()
        else:
            yield frame
            frame = {}


def test_the_live_stream_resumes_after_the_last_event_seen(stack: Stack) -> None:
    """The relay passes Last-Event-ID on to intake's stream: a change made while the browser
    was away arrives once it reconnects."""
    timeout = httpx.Timeout(30, read=30)
    with httpx.Client(base_url=stack.web_url, timeout=timeout) as web:
        web.cookies.set("tf_agent", JANE_TOKEN, path="/agent")
        sse = {"Accept": "text/event-stream"}
        with web.stream("GET", "/agent/live", headers=sse) as response:
            assert response.status_code == 200
            last = next(frames(response))["id"]
        subject = f"Opened while away {uuid.uuid4().hex[:6]}"
        with httpx.Client(base_url=stack.intake_url, timeout=30) as api:
            created = api.post(
                "/api/v1/tickets",
                json={
                    "requester": {"name": "Alice", "email": "alice@example.com"},
                    "subject": subject,
                    "message": "Hello",
                    "help_topic": "online-banking",
                },
            )
        number = created.json()["number"]
        with web.stream("GET", "/agent/live", headers={**sse, "Last-Event-ID": last}) as response:
            changes = (json.loads(f["data"]) for f in frames(response) if "data" in f)
            change = next(c for c in changes if c["ticket"] == number)
    assert change["type"] == "ticket.created" and change["assignee"] is None
    assert set(change) == {"ticket", "type", *ROUTING}  # never a message's text


def test_the_keys_move_through_the_rows_and_never_while_typing(jane: Page, stack: Stack) -> None:
    live_queue(jane, f"{stack.web_url}/agent?view=open")
    rows = jane.locator("#queue-results tr[data-number]")
    expect(rows.first).to_be_visible()
    jane.locator("body").press("j")
    expect(rows.first).to_have_class(re.compile(r"\bcurrent\b"))
    first = rows.first.get_attribute("data-number")
    expect(jane.locator(".ticket-link").first).to_be_focused()
    jane.keyboard.press("/")
    search = jane.get_by_label("Search", exact=True)
    expect(search).to_be_focused()
    jane.keyboard.type("jk?")  # typed into the field, not taken as keys
    expect(search).to_have_value("jk?")
    expect(jane.locator("#queue-keys")).not_to_be_visible()
    jane.locator("body").click()
    jane.keyboard.press("?")
    dialog = jane.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    accessible(jane, "the queue with its keys dialog open")
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).not_to_be_visible()
    assert first is not None


HOSTILE_SUBJECT = '<script>alert("s")</script><img src=x onerror=alert(1)>'
HOSTILE_NAME = '"><svg onload=alert(2)> & Co'
HOSTILE_TEXT = "<iframe src=//evil.test></iframe> javascript:alert(3) </textarea><b>bold</b>"


def test_hostile_text_in_every_field_stays_text_live_and_on_the_ticket_page(
    jane: Page, stack: Stack
) -> None:
    """What a requester and agents write (subject, name, message, reply, note) arrives live in
    the queue and on the ticket page as text: no dialog opens, nothing is asked of another
    origin, no script error, and axe finds nothing serious."""
    web = stack.web_url
    errors, dialogs, elsewhere = errors_of(jane), [], []
    jane.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    jane.on(
        "request",
        lambda request: None if request.url.startswith(web) else elsewhere.append(request.url),
    )
    live_queue(jane, f"{web}/agent?view=unassigned")
    subject = f"{HOSTILE_SUBJECT} {uuid.uuid4().hex[:6]}"
    with httpx.Client(base_url=stack.intake_url, timeout=30) as api:
        created = api.post(
            "/api/v1/tickets",
            json={
                "requester": {"name": HOSTILE_NAME, "email": "mallory@example.com"},
                "subject": subject,
                "message": f"Requester: {HOSTILE_TEXT}",
                "help_topic": "online-banking",
            },
        )
        assert created.status_code == 201, created.text
        number = created.json()["number"]
        row = jane.locator(f'tr[data-number="{number}"]')
        expect(row).to_contain_text(subject)
        expect(row).to_contain_text(HOSTILE_NAME)
        accessible(jane, "a queue after a live update with hostile text")

        agent = {"Authorization": f"Bearer {JANE_TOKEN}"}
        for path, text in (
            ("replies", f"Reply: {HOSTILE_TEXT}"),
            ("notes", f"Note: {HOSTILE_TEXT}"),
        ):
            sent = api.post(
                f"/api/v1/tickets/{number}/{path}", json={"message": text}, headers=agent
            )
            assert sent.status_code == 200, sent.text

    jane.goto(f"{web}/agent/tickets/{number}")
    expect(jane.get_by_role("heading", level=1)).to_contain_text(subject)
    expect(jane.locator("#requester-name")).to_have_text(HOSTILE_NAME)
    for said in ("Requester: ", "Reply: ", "Note: "):
        expect(jane.get_by_text(f"{said}{HOSTILE_TEXT}", exact=True)).to_have_count(1)
    assert jane.locator("iframe, svg[onload], img[onerror], b:text-is('bold')").count() == 0
    accessible(jane, "a ticket page full of hostile text")
    assert dialogs == [] and elsewhere == [] and errors == []
