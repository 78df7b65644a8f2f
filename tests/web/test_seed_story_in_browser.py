"""The osTicket seed story from both sides, in three real browsers (Playwright driving Debian's
Chromium) against the real stack: a requester opens "Online banking system down" in the
portal; it shows up live in Jane's Unassigned queue; Jane assigns it to John on the Online
Banking team and raises it to Emergency; it shows up live in John's "My tickets"; John
replies and keeps a note, which the requester never sees; John resolves, the requester
confirms, and the ticket is closed. axe-core checks each page state on the way."""

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from services.devstack import Stack
from tests.e2e.conftest import JANE, eventually
from tests.web.browsers import (
    accessible,
    errors_of,
    live_queue,
    loads_of,
    mailed_link,
    new_context,
    open_ticket,
)

pytestmark = pytest.mark.e2e
SUBJECT = "Online banking system down"
REPLY = "We are on it: the load balancer in front of online banking is being replaced."
NOTE = "Vendor ticket VND-7: their firmware bug, keep the requester out of it."


@pytest.fixture
def requester(browser: Browser) -> Iterator[Page]:
    context = new_context(browser)
    yield context.new_page()
    context.close()


def status_of(stack: Stack, number: str) -> str:
    with httpx.Client(base_url=stack.intake_url, headers=JANE, timeout=30) as api:
        answer = api.get(f"/api/v1/tickets/{number}")
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status


def test_a_requester_and_two_agents_see_a_ticket_through_from_open_to_closed(
    requester: Page, jane: Page, john: Page, stack: Stack
) -> None:
    web = stack.web_url
    errors = {"requester": errors_of(requester), "jane": errors_of(jane), "john": errors_of(john)}
    live_queue(jane, f"{web}/agent?view=unassigned")
    live_queue(john, f"{web}/agent?view=mine")
    jane_loads, john_loads = loads_of(jane), loads_of(john)

    # 1. The requester opens the ticket in the portal, on the online banking help topic.
    number = open_ticket(
        requester, web, subject=SUBJECT, topic="online-banking", message="Nobody can sign in."
    )
    expect(requester.get_by_role("heading", level=1)).to_have_text(SUBJECT)
    expect(requester.locator("#status")).to_have_text("We're working on it")
    accessible(requester, "the requester's new ticket")

    # 2. It shows up in Jane's Unassigned view, routed to the team, without a reload.
    row = jane.locator(f'tr[data-number="{number}"]')
    expect(row).to_contain_text(SUBJECT)
    expect(row).to_contain_text("Unassigned")
    expect(row.locator(".team")).to_have_text("online-banking")
    assert jane_loads == [], "Jane's page was reloaded"
    accessible(jane, "Jane's Unassigned view after a live update")

    # 3. On its page in the console, Jane assigns it to John on the team, then raises it.
    row.get_by_role("link", name=number).click()
    expect(jane).to_have_url(f"{web}/agent/tickets/{number}")
    expect(jane.get_by_role("heading", level=1)).to_have_text(SUBJECT)
    expect(jane.locator("#priority")).to_have_text("High")  # the help topic's
    accessible(jane, "Jane's ticket page")
    jane.get_by_label("Agent", exact=True).fill("john")
    jane.get_by_label("Team", exact=True).fill("online-banking")
    jane.get_by_role("button", name="Assign", exact=True).click()
    expect(jane.get_by_text("Assigned.", exact=True)).to_be_visible()
    expect(jane.locator("#assignee")).to_have_text("john")
    jane.get_by_label("Priority", exact=True).select_option("emergency")
    jane.get_by_role("button", name="Change priority").click()
    expect(jane.get_by_text("Priority changed.", exact=True)).to_be_visible()
    expect(jane.locator("#priority")).to_have_text("Emergency")
    accessible(jane, "Jane's ticket page, assigned and raised")

    # 4. It shows up in John's "My tickets", raised, without a reload.
    mine = john.locator(f'tr[data-number="{number}"]')
    expect(mine).to_contain_text(SUBJECT)
    expect(mine).to_contain_text("john")
    expect(mine.locator(".team")).to_have_text("online-banking")
    expect(mine.locator(".priority")).to_have_text("Emergency")
    assert john_loads == [], "John's page was reloaded"
    accessible(john, "John's My tickets after a live update")

    # 5. John replies, then keeps a note; the requester sees the reply, never the note.
    mine.get_by_role("link", name=number).click()
    expect(john.get_by_role("heading", level=1)).to_have_text(SUBJECT)
    expect(john.get_by_label("Public reply")).to_be_checked()
    john.get_by_label("Message", exact=True).fill(REPLY)
    john.get_by_role("button", name="Send", exact=True).click()
    expect(john.get_by_text("Reply sent.")).to_be_visible()
    expect(john.locator(".entry-response")).to_contain_text(REPLY)
    john.get_by_label("Internal note").check()
    john.get_by_label("Message", exact=True).fill(NOTE)
    john.get_by_role("button", name="Send", exact=True).click()
    expect(john.get_by_text("Note added.")).to_be_visible()
    expect(john.locator(".entry-note")).to_contain_text(NOTE)
    accessible(john, "John's ticket page with his reply and note")
    # The requester comes back by the acknowledgement's link, as the mail sink received it.
    link = eventually(lambda: mailed_link(stack, number), what="the acknowledgement's link")
    requester.goto(link)
    expect(requester).to_have_url(f"{web}/tickets/{number}")
    expect(requester.get_by_role("article", name="Answer from John Smith")).to_contain_text(REPLY)
    expect(requester.get_by_text(NOTE)).to_have_count(0)
    assert NOTE not in requester.content()
    accessible(requester, "the requester's ticket with John's reply")

    # 6. John resolves; the requester confirms it solved the problem, which closes it.
    john.get_by_label("Resolution (optional").fill("Replaced the load balancer.")
    john.get_by_role("button", name="Resolve", exact=True).click()
    expect(john.get_by_text("Resolved.", exact=True)).to_be_visible()
    expect(john.locator("#status")).to_have_text("Resolved")
    requester.reload()
    expect(requester.locator("#status")).to_have_text("Resolved: close it, or reply if it isn't")
    expect(requester.get_by_role("heading", name="Did this solve your problem?")).to_be_visible()
    accessible(requester, "the requester's resolved ticket")
    requester.get_by_role("button", name="Yes, close the ticket").click()
    expect(requester.locator("#status")).to_have_text("Closed")
    expect(requester.get_by_role("heading", name="How did we do?")).to_be_visible()
    accessible(requester, "the requester's closed ticket, asking for a rating")
    eventually(lambda: status_of(stack, number) == "closed", what="the ticket closed")
    john.reload()
    expect(john.locator("#status")).to_have_text("Closed")
    expect(john.locator("#timeline")).to_contain_text("resolved it")
    assert errors == {"requester": [], "jane": [], "john": []}
