"""The console's ticket page in a real browser (Playwright driving Debian's Chromium) against
the real stack: two agents on one ticket, who see each other live, both write, and the one
who sends second is stopped, shown what came in, and keeps the draft. Every page state
visited is checked with axe-core: the page, with a dialog open, after a refusal."""

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, FilePayload, Page, expect

from services.devstack import Stack
from tests.e2e.conftest import JANE
from tests.web.browsers import (
    JANE_TOKEN,
    JOHN_TOKEN,
    VERA_TOKEN,
    accessible,
    agent_context,
    errors_of,
)

pytestmark = pytest.mark.e2e
CHANGED = "The ticket changed while you wrote: read the new entries above, then send again."


def scripted(page: Page) -> None:
    """Wait for the page's script to have started (it shows the keys' button)."""
    expect(page.get_by_role("button", name="Keyboard shortcuts (?)")).to_be_visible()


@pytest.fixture
def number(stack: Stack) -> str:
    with httpx.Client(base_url=stack.intake_url, headers=JANE, timeout=30) as api:
        created = api.post(
            "/api/v1/tickets",
            json={
                "requester": {"name": "Alice Customer", "email": "alice@example.com"},
                "subject": "Online banking system down",
                "message": "Customers cannot log in since 9:00.",
                "help_topic": "online-banking",
            },
        )
        assert created.status_code == 201, created.text
        number: str = created.json()["number"]
        return number


def test_two_agents_write_at_once_and_the_second_send_is_stopped(
    browser: Browser, stack: Stack, number: str
) -> None:
    url = f"{stack.web_url}/agent/tickets/{number}"
    jane_context = agent_context(browser, stack, JANE_TOKEN)
    john_context = agent_context(browser, stack, JOHN_TOKEN)
    try:
        jane, john = jane_context.new_page(), john_context.new_page()
        jane_errors = errors_of(jane, error_answers_expected=True)  # her send answered 412
        john_errors = errors_of(john, error_answers_expected=True)
        jane.goto(url)
        expect(jane.get_by_role("heading", level=1)).to_have_text("Online banking system down")
        expect(jane.locator(".countdown").first).to_contain_text(re.compile("due in|breached"))
        accessible(jane, "ticket page")

        # The keys: ? lists them (a dialog), r starts a reply; a key typed in a field is text.
        scripted(jane)
        jane.keyboard.press("?")
        expect(jane.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
        accessible(jane, "ticket page with the keys dialog open")
        jane.keyboard.press("Escape")
        expect(jane.get_by_role("dialog")).to_have_count(0)
        jane.keyboard.press("n")
        expect(jane.get_by_label("Internal note")).to_be_checked()
        expect(jane.get_by_label("Message", exact=True)).to_be_focused()
        jane.get_by_role("heading", level=1).click()  # out of the field: keys work again
        jane.keyboard.press("r")
        expect(jane.get_by_label("Public reply")).to_be_checked()
        expect(jane.get_by_label("Message", exact=True)).to_be_focused()
        jane.keyboard.type("Jane here: restart the login service, r")
        expect(jane.get_by_label("Public reply")).to_be_checked()

        # John opens it too: each sees the other, and Jane sees him write.
        john.goto(url)
        presence = jane.locator("#presence")
        expect(presence).to_contain_text("John Smith is viewing")
        expect(john.locator("#presence")).to_contain_text("Jane Doe is writing a reply")
        john.get_by_label("Message", exact=True).fill("John here: the load balancer is back.")
        expect(presence).to_contain_text("John Smith is writing a reply")

        # John sends first.
        john.get_by_role("button", name="Send", exact=True).click()
        expect(john.get_by_text("Reply sent.")).to_be_visible()
        expect(john.locator(".entry-response")).to_contain_text("the load balancer is back")
        expect(john.get_by_label("Message", exact=True)).to_have_value("")
        expect(jane.locator("#changed")).to_contain_text("changed since this page was loaded")

        # Jane's send is stopped: John's reply shows as new, her draft stays.
        jane.get_by_role("button", name="Send", exact=True).click()
        expect(jane.get_by_role("alert")).to_contain_text(CHANGED)
        new = jane.locator(".entry-new")
        expect(new).to_have_count(1)
        expect(new).to_contain_text("the load balancer is back")
        expect(new).to_contain_text("New since you started writing")
        draft = "Jane here: restart the login service, r"
        expect(jane.get_by_label("Message", exact=True)).to_have_value(draft)
        accessible(jane, "ticket page after a refused send")

        # The draft survives a reload; sent again, deliberately, it goes and is cleared.
        jane.goto(url)
        expect(jane.get_by_label("Message", exact=True)).to_have_value(draft)
        jane.get_by_role("button", name="Send", exact=True).click()
        expect(jane.get_by_text("Reply sent.")).to_be_visible()
        expect(jane.locator(".entry-response")).to_have_count(2)
        scripted(jane)  # which forgets the draft sent
        jane.goto(url)
        expect(jane.get_by_label("Message", exact=True)).to_have_value("")

        # An internal note looks like one; a assigns the ticket to oneself.
        john.goto(url)
        john.get_by_label("Internal note").check()
        john.get_by_label("Message", exact=True).fill("Vendor ticket VND-7 opened.")
        vendor: FilePayload = {
            "name": "vendor.txt",
            "mimeType": "text/plain",
            "buffer": b"VND-7 trace",
        }
        john.get_by_label("Files (optional)").set_input_files([vendor])
        john.get_by_role("button", name="Send", exact=True).click()
        expect(john.locator(".entry-note")).to_contain_text("Internal note")
        with john.expect_download() as download:
            john.locator(".entry-note").get_by_role("link", name="vendor.txt").click()
        assert Path(download.value.path()).read_bytes() == b"VND-7 trace"
        scripted(john)
        john.keyboard.press("a")
        expect(john.get_by_text("Assigned to you.")).to_be_visible()
        expect(john.locator("#assignee")).to_have_text("john")

        # The composer's follow-ups, and the actions: each says what it did, or why not.
        john.get_by_label("Message", exact=True).fill("Please confirm it works now.")
        john.locator("#composer-remind").fill("2031-01-02T09:30")
        john.get_by_role("button", name="Reply and set pending").click()
        expect(john.locator("#status")).to_have_text("Pending: waiting on the requester")
        expect(john.locator(".entry-response").last).to_contain_text("confirm it works")
        john.get_by_role("button", name="Change priority").click()  # the same one again
        expect(john.get_by_role("alert")).to_contain_text("This could not be done: priority is")
        accessible(john, "ticket page after a refused action")
        john.get_by_label("Resolution (optional").fill("Restarted the login service.")
        john.get_by_role("button", name="Resolve", exact=True).click()
        expect(john.get_by_text("Resolved.")).to_be_visible()
        expect(john.locator("#status")).to_have_text("Resolved")
        john.get_by_label("System").fill("jira")
        john.get_by_label("Id", exact=True).fill("OPS-12")
        john.get_by_label("Address (optional)").fill("https://jira.example.com/browse/OPS-12")
        john.get_by_role("button", name="Link", exact=True).click()
        link = john.get_by_role("link", name="jira:OPS-12")
        expect(link).to_have_attribute("href", "https://jira.example.com/browse/OPS-12")
        expect(link).to_have_attribute("rel", "noopener nofollow")
        john.get_by_role("button", name="Unlink jira:OPS-12").click()
        expect(john.get_by_text("Unlinked.")).to_be_visible()
        expect(john.get_by_role("link", name="jira:OPS-12")).to_have_count(0)
        john.get_by_role("button", name="Reopen").click()
        expect(john.locator("#status")).to_have_text("Open")
        timeline = john.locator("#timeline")
        for words in ("assigned it to john", "set it pending", "resolved it", "linked jira:OPS-12"):
            expect(timeline).to_contain_text(words)
        assert jane_errors == [] and john_errors == []
    finally:
        jane_context.close()
        john_context.close()


def test_a_viewer_sees_the_ticket_without_actions(
    browser: Browser, stack: Stack, number: str
) -> None:
    context = agent_context(browser, stack, VERA_TOKEN)
    try:
        page = context.new_page()
        page.goto(f"{stack.web_url}/agent/tickets/{number}")
        expect(page.get_by_role("heading", level=1)).to_have_text("Online banking system down")
        expect(
            page.get_by_text("Your role (viewer) may not reply to it or change it")
        ).to_be_visible()
        expect(page.get_by_role("button", name="Assign to me")).to_have_count(0)
        expect(page.get_by_label("Message", exact=True)).to_have_count(0)
        scripted(page)
        page.keyboard.press("a")  # nothing to do for a viewer
        expect(page).to_have_url(f"{stack.web_url}/agent/tickets/{number}")
        accessible(page, "a viewer's ticket page")
    finally:
        context.close()
