"""What the browser tests share: Debian's Chromium (never a downloaded one), a browser context
per person (a requester, or an agent signed in with their demo token), the portal's form, the
acknowledgement's link in the mail sink, and the checks run on every page state (axe-core,
which axe-playwright-python ships, and the page's own errors). The fixtures are in conftest.py."""

import email
import email.policy
import re
from typing import Any
from urllib.parse import urlsplit

from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, expect

from services.devstack import Stack

CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 20_000  # how long an action or an `expect` waits (conftest.py's `browser`)
# The seeded agents' demo tokens (config/demo.yaml), as the console's cookie carries them.
JANE_TOKEN, JOHN_TOKEN, VERA_TOKEN = "dev-jane-token", "dev-john-token", "dev-vera-token"
# The note a browser logs for a page answered with an error status: no script's error.
ERROR_STATUS = "Failed to load resource: the server responded with a status of"


def new_context(browser: Browser, *, width: int = 1280) -> BrowserContext:
    """A browser of its own (its own cookies) whose actions give a loaded stack 20 s."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(WAIT_MS)
    return context


def agent_context(
    browser: Browser, stack: Stack, token: str, *, width: int = 1280
) -> BrowserContext:
    """A browser of its own for one agent, signed in to the console with their demo token."""
    context = new_context(browser, width=width)
    host = urlsplit(stack.web_url).hostname or "127.0.0.1"
    cookie = {"name": "tf_agent", "value": token, "domain": host, "path": "/agent"}
    context.add_cookies([cookie])  # type: ignore[list-item]
    return context


def accessible(page: Page, what: str) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in Axe().run(page).response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not violations, f"{what}: {violations}"


def errors_of(page: Page, *, error_answers_expected: bool = False) -> list[str]:
    """What goes wrong in the page as it runs: a script's exception, a refusal by the CSP, any
    error logged. With `error_answers_expected`, the browser's note of a page answered with an
    error status (a 412 the test provokes) is no error."""
    logged: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        if not (error_answers_expected and message.text.startswith(ERROR_STATUS)):
            logged.append(f"{message.text} (at {message.location.get('url')})")

    page.on("console", console)
    page.on("pageerror", lambda error: logged.append(str(error)))
    return logged


def loads_of(page: Page) -> list[str]:
    """The documents `page` loads from now on, a reload among them: a live update loads none."""
    loaded: list[str] = []
    page.on("load", lambda this: loaded.append(this.url))
    return loaded


def live_queue(page: Page, url: str) -> None:
    """Open a console queue and wait until its live stream is connected."""
    page.goto(url)
    expect(page.locator("#queue-live-state")).to_have_text("Live")


def open_ticket(
    page: Page, web: str, *, subject: str, name: str = "Alice Customer", **more: Any
) -> str:
    """Open a ticket through the portal's form; answers its number, from the page it lands on."""
    page.goto(f"{web}/tickets/new")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Your email address").fill(more.get("email", "alice@example.com"))
    page.get_by_label("Help topic").select_option(more.get("topic", "online-banking"))
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Message").fill(more.get("message", f"{subject}: please help"))
    if "files" in more:
        page.get_by_label("Files (optional)").set_input_files(more["files"])
    page.get_by_role("button", name="Open the ticket").click()
    page.wait_for_url(re.compile(r".*/tickets/\d{6,}$"))
    return page.url.rsplit("/", 1)[1]


def mailed_link(stack: Stack, number: str) -> str | None:
    """The link to the ticket's page in its acknowledgement, as the mail sink received it."""
    for path in sorted((stack.var / "mail").glob("*.eml")):
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if not str(mail["Subject"]).startswith(f"[#{number}] We received"):
            continue
        body = mail.get_body(preferencelist=("plain",))
        text = body.get_content() if body is not None else ""
        found = re.search(rf"{re.escape(stack.web_url)}/t/{number}\?k=\S+", text)
        return found.group(0) if found else None
    return None
