"""The portal in a real browser (Playwright driving Debian's Chromium, never a downloaded
one) against the real stack: Temporal dev server, worker, intake, notify, web, mail sink.
Every page state visited is checked with axe-core (shipped inside axe-playwright-python)."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, FilePayload, Page, expect

from services.devstack import Stack
from tests.e2e.conftest import JANE, eventually
from tests.web.browsers import (
    CHROMIUM,
    accessible,
    errors_of,
    mailed_link,
    new_context,
    open_ticket,
)

pytestmark = pytest.mark.e2e
HOSTILE = '<script>alert("s")</script><img src=x onerror=alert("i")> javascript:alert(1)'


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = new_context(browser)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.intake_url, headers=JANE, timeout=30) as client:
        yield client


def test_playwright_drives_debian_chromium(browser: Browser) -> None:
    """Fails loudly (never skips) if Playwright and Debian's Chromium do not work together."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: apt-get install chromium"
    page = browser.new_page()
    page.set_content("<button>ok</button>")
    expect(page.get_by_role("button", name="ok")).to_be_visible()
    page.close()


def test_a_requester_opens_follows_and_answers_a_ticket(
    page: Page, api: httpx.Client, stack: Stack, context: BrowserContext
) -> None:
    web = stack.web_url
    refused = errors_of(page)  # the CSP's refusals show in the console
    page.goto(web)
    expect(page.get_by_role("heading", level=1)).to_contain_text("how can we help")
    accessible(page, "support center")
    page.get_by_role("link", name="Open a new ticket").first.click()
    expect(page.get_by_role("heading", name="Open a new ticket")).to_be_visible()
    accessible(page, "new ticket form")
    file = {"name": "screenshot.txt", "mimeType": "text/plain", "buffer": b"error 42"}
    number = open_ticket(page, web, subject="Online banking down", files=[file])
    expect(page.get_by_role("heading", level=1)).to_have_text("Online banking down")
    expect(page.locator("#status")).to_have_text("We're working on it")
    expect(page.get_by_text("You can expect a first answer by")).to_be_visible()
    expect(page.get_by_role("link", name="screenshot.txt")).to_be_visible()
    accessible(page, "ticket page")
    # The acknowledgement arrives, and its link opens the ticket in another browser.
    link = eventually(lambda: mailed_link(stack, number), what="the acknowledgement's link")
    other = context.browser.new_context()  # type: ignore[union-attr]
    try:
        visitor = other.new_page()
        visitor.goto(link)
        expect(visitor).to_have_url(f"{web}/tickets/{number}")
        expect(visitor.get_by_role("heading", level=1)).to_have_text("Online banking down")
    finally:
        other.close()

    # An agent responds and keeps a note: the page shows the response, never the note.
    assert api.post(
        f"/api/v1/tickets/{number}/replies", json={"message": "Try again now?"}
    ).is_success
    assert api.post(
        f"/api/v1/tickets/{number}/notes", json={"message": "NOTE: vendor bug"}
    ).is_success
    page.reload()
    expect(page.get_by_text("Try again now?")).to_be_visible()
    expect(page.get_by_text("NOTE: vendor bug")).to_have_count(0)

    # The requester replies with a file.
    page.get_by_label("Your message").fill("Still down.\nSecond line.")
    log: FilePayload = {"name": "log.txt", "mimeType": "text/plain", "buffer": b"trace"}
    page.get_by_label("Files (optional)").set_input_files([log])
    page.get_by_role("button", name="Send the reply").click()
    expect(page.get_by_text("Still down.")).to_be_visible()
    expect(page.get_by_role("link", name="log.txt")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="log.txt").click()
    assert Path(download.value.path()).read_bytes() == b"trace"

    # Resolved: "Did this solve your problem?" No opens the reply box.
    assert api.post(f"/api/v1/tickets/{number}/resolve", json={}).is_success
    page.reload()
    expect(page.locator("#status")).to_have_text("Resolved: close it, or reply if it isn't")
    expect(page.get_by_role("heading", name="Did this solve your problem?")).to_be_visible()
    expect(page.get_by_label("Your message")).to_have_count(0)
    accessible(page, "resolved ticket")
    page.get_by_role("link", name="No, I'll reply").click()
    expect(page.get_by_label("Your message")).to_be_visible()
    page.get_by_role("link", name="Close this ticket").click()
    expect(page.get_by_role("heading", name=f"Close ticket {number}?")).to_be_visible()
    accessible(page, "close confirmation")
    page.get_by_role("button", name="Yes, close this ticket").click()
    expect(page.locator("#status")).to_have_text("Closed")
    expect(page.get_by_label("Your message")).to_have_count(0)
    assert refused == []


def test_yes_closes_a_resolved_ticket_and_asks_for_a_rating(
    page: Page, api: httpx.Client, stack: Stack
) -> None:
    number = open_ticket(page, stack.web_url, subject="Close me")
    assert api.post(f"/api/v1/tickets/{number}/resolve", json={}).is_success
    page.reload()
    page.get_by_role("button", name="Yes, close the ticket").click()
    expect(page.locator("#status")).to_have_text("Closed")
    page.get_by_label("Bad").check()
    page.get_by_role("button", name="Send the rating").click()
    expect(page.get_by_text("Thank you: you rated this ticket bad.")).to_be_visible()


def test_a_closed_ticket_is_rated_once(page: Page, api: httpx.Client, stack: Stack) -> None:
    number = open_ticket(page, stack.web_url, subject="Rate me")
    assert api.post(f"/api/v1/tickets/{number}/close").is_success
    page.reload()
    expect(page.get_by_role("heading", name="How did we do?")).to_be_visible()
    accessible(page, "rating form")
    page.get_by_label("Good").check()
    page.get_by_label("Comment (optional)").fill("Quick and kind")
    page.get_by_role("button", name="Send the rating").click()
    expect(page.get_by_text("Thank you: you rated this ticket good.")).to_be_visible()
    expect(page.get_by_role("heading", name="How did we do?")).to_have_count(0)


def test_hostile_input_renders_as_text_and_nothing_leaves_the_origin(
    page: Page, api: httpx.Client, stack: Stack
) -> None:
    web = stack.web_url
    dialogs: list[str] = []
    elsewhere: list[str] = []

    def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    page.on(
        "request",
        lambda request: None if request.url.startswith(web) else elsewhere.append(request.url),
    )
    hostile_file = {
        "name": '<img src=x onerror=alert("f")>.txt',
        "mimeType": "text/html",
        "buffer": b"<script>alert(2)</script>",
    }
    number = open_ticket(
        page,
        web,
        subject=HOSTILE[:150],
        name='Mallory <img src=x onerror=alert("n")>',
        message=f"{HOSTILE}\nhttps://example.com/ok",
        files=[hostile_file],
    )
    api.post(
        f"/api/v1/tickets/{number}/replies",
        json={"message": "javascript:alert(3) <a href=javascript:alert(4)>x</a>"},
    )
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE[:150])
    expect(page.get_by_text('Mallory <img src=x onerror=alert("n")>', exact=True)).to_be_visible()
    expect(page.get_by_text("<a href=javascript:alert(4)>x</a>")).to_be_visible()
    assert page.locator("main script, main img, main [onerror]").count() == 0
    assert page.locator("a[href^='javascript:']").count() == 0
    link = page.get_by_role("link", name="https://example.com/ok")
    expect(link).to_have_attribute("rel", "noopener nofollow ugc")
    expect(page.get_by_role("link", name=re.compile(r"^<img src=x"))).to_be_visible()
    accessible(page, "hostile ticket")
    assert dialogs == [] and elsewhere == []


def test_a_double_submit_opens_one_ticket(page: Page, api: httpx.Client, stack: Stack) -> None:
    subject = f"Double {datetime.now(UTC).timestamp()}"
    page.goto(f"{stack.web_url}/tickets/new")
    page.get_by_label("Your name").fill("Dora")
    page.get_by_label("Your email address").fill("dora@example.com")
    page.get_by_label("Help topic").select_option("general")
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Message").fill("Clicked twice")
    # The same form sent twice at once, as a double click without JavaScript does.
    landed = page.evaluate(
        """async () => {
            const form = document.querySelector('#new-ticket');
            const send = () => fetch(form.action, {method: 'POST', body: new FormData(form)});
            const answers = await Promise.all([send(), send()]);
            return answers.map((answer) => answer.url);
        }"""
    )
    assert len(set(landed)) == 1 and re.search(r"/tickets/\d{6,}$", landed[0]), landed
    found = api.get("/api/v1/tickets", params={"q": subject}).json()
    assert found["total"] == 1, found


def test_the_core_path_works_without_javascript(browser: Browser, stack: Stack) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        number = open_ticket(page, stack.web_url, subject="No script here")
        page.get_by_label("Your message").fill("A plain post")
        page.get_by_role("button", name="Send the reply").click()
        expect(page).to_have_url(f"{stack.web_url}/tickets/{number}#latest")
        expect(page.get_by_text("A plain post")).to_be_visible()
    finally:
        context.close()


def test_the_other_pages_are_accessible(page: Page, stack: Stack) -> None:
    web = stack.web_url
    number = open_ticket(page, web, subject="Lost my link", email="lost@example.com")
    page.goto(f"{web}/status")
    accessible(page, "status form")
    answers = []
    for address in ("lost@example.com", "nobody@example.com"):  # a match, then a miss
        page.goto(f"{web}/status")
        page.get_by_label("Ticket number").fill(number)
        page.get_by_label("Your email address").fill(address)
        page.get_by_role("button", name="Send me a link").click()
        expect(page.get_by_role("status")).to_contain_text("on its way")
        answers.append(page.locator("main").inner_text())
    assert answers[0] == answers[1]  # nobody learns which tickets or addresses exist
    accessible(page, "status answered")
    page.goto(f"{web}/t/100000?k=tl1.100000.1.forged")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "This link has expired or is not valid"
    )
    accessible(page, "bad link")
    page.goto(f"{web}/tickets/new")
    page.get_by_label("Your name").fill("Ann")
    page.get_by_label("Your email address").fill("ann@example")
    page.get_by_label("Help topic").select_option("general")
    page.get_by_label("Subject").fill("Refused")
    page.get_by_label("Message").fill("kept")
    page.get_by_role("button", name="Open the ticket").click()
    expect(page.locator("#email-error")).to_be_visible()
    expect(page.get_by_label("Message")).to_have_value("kept")
    accessible(page, "new ticket refused")
    for width in (320, 1440):
        page.set_viewport_size({"width": width, "height": 900})
        for path in ("/", "/tickets/new", "/status"):
            page.goto(web + path)
            scroll = page.evaluate("document.documentElement.scrollWidth")
            assert scroll <= width, f"{path} at {width}px scrolls sideways ({scroll}px)"
