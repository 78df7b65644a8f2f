"""`make screenshots`: PNGs of every portal page and the console's main pages, at a desktop
and a phone width, in docs/screenshots/. It starts the whole stack on free ports in a
temporary folder, opens a ticket through the portal, has an agent (the demo's Jane) answer and
resolve it, and drives Debian's Chromium (never a browser Playwright downloads) through the
pages; the console's pages are shown as Jane sees them."""

import argparse
import re
import secrets
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Browser, FilePayload, Page, sync_playwright

from services.devstack import Stack

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
WIDTHS = {"desktop": 1440, "phone": 360}
JANE = {"Authorization": "Bearer dev-jane-token"}


def open_ticket(page: Page, web: str) -> str:
    page.goto(f"{web}/tickets/new")
    page.get_by_label("Your name").fill("Alice Customer")
    page.get_by_label("Your email address").fill("alice@example.com")
    page.get_by_label("Help topic").select_option("online-banking")
    page.get_by_label("Subject").fill("Online banking system down")
    page.get_by_label("Message").fill(
        "Since 9:00 the login page answers 'service unavailable'.\n"
        "Screenshot attached; the status page https://status.example.com says all is well."
    )
    screenshot = FilePayload(name="login-error.png", mimeType="image/png", buffer=b"\x89PNG\r\n")
    page.get_by_label("Files (optional)").set_input_files([screenshot])
    page.get_by_role("button", name="Open the ticket").click()
    page.wait_for_url(re.compile(r".*/tickets/[0-9]+$"))
    return page.url.rsplit("/", 1)[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        var = Path(folder)
        stack = Stack.on_free_ports(
            var,
            f"sqlite:///{var / 'ticketflow.db'}",
            extra_env={"ENVIRONMENT": "test", "SECRET_KEY": secrets.token_hex(32)},
        )
        try:
            stack.start_temporal()
            stack.migrate_and_load(ROOT / "config" / "demo.yaml")
            stack.start_services()
            shoot(stack, args.out)
        finally:
            stack.stop()
    return 0


def shoot(stack: Stack, out: Path) -> None:
    web = stack.web_url
    out.mkdir(parents=True, exist_ok=True)
    with (
        sync_playwright() as playwright,
        httpx.Client(base_url=stack.intake_url, headers=JANE, timeout=30) as api,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        for scheme in ("light", "dark"):
            context = browser.new_context(
                viewport={"width": 1440, "height": 900}, color_scheme=scheme
            )
            page = context.new_page()
            number = open_ticket(page, web)
            ticket = f"/api/v1/tickets/{number}"
            api.post(f"{ticket}/assign", json={"agent": "jane"}).raise_for_status()
            api.post(
                f"{ticket}/replies",
                json={"message": "We are on it: the login service restarts in 10 minutes."},
            ).raise_for_status()
            shots: list[tuple[str, str, Callable[[Page], None] | None]] = [
                ("support-center", "/", None),
                ("new-ticket", "/tickets/new", None),
                ("new-ticket-refused", "/tickets/new", _refused),
                ("status", "/status", None),
                ("bad-link", f"/t/{number}?k=tl1.{number}.1.expired", None),
                ("ticket", f"/tickets/{number}", None),
                ("close", f"/tickets/{number}/close", None),
                ("ticket-resolved", f"/tickets/{number}", None),
                ("ticket-closed", f"/tickets/{number}", None),
            ]
            for name, path, then in shots:
                if name == "ticket-resolved":
                    api.post(f"{ticket}/resolve", json={}).raise_for_status()
                if name == "ticket-closed":  # asks for a rating
                    api.post(f"{ticket}/close").raise_for_status()
                if scheme == "dark" and name not in ("support-center", "ticket"):
                    continue
                for label, width in WIDTHS.items():
                    page.set_viewport_size({"width": width, "height": 900})
                    page.goto(web + path)
                    if then is not None:
                        then(page)
                    suffix = "" if scheme == "light" else "-dark"
                    target = out / f"{name}-{label}{suffix}.png"
                    page.screenshot(path=str(target), full_page=True)
                    print(target, flush=True)
            context.close()
        shoot_console(browser, stack, api, out)
        browser.close()


def shoot_console(browser: Browser, stack: Stack, api: httpx.Client, out: Path) -> None:
    """The console as Jane sees it: signed in with her demo token (what a session is to the
    API), on a ticket with a response and an internal note."""
    web = stack.web_url
    number = str(
        api.post(
            "/api/v1/tickets",
            json={
                "requester": {"name": "Alice Customer", "email": "alice@example.com"},
                "subject": "Online banking system down",
                "message": "Customers cannot log in since 9:00.",
                "help_topic": "online-banking",
            },
        ).json()["number"]
    )
    ticket = f"/api/v1/tickets/{number}"
    api.post(f"{ticket}/priority", json={"priority": "emergency"}).raise_for_status()
    api.post(f"{ticket}/notes", json={"message": "LB in DC2 is down."}).raise_for_status()
    anonymous = browser.new_context(viewport={"width": 1440, "height": 900})
    jane = browser.new_context(viewport={"width": 1440, "height": 900})
    jane.add_cookies([{"name": "tf_agent", "value": "dev-jane-token", "url": f"{web}/agent"}])
    shots = [
        (anonymous, "console-sign-in", "/agent/sign-in"),
        (jane, "console-queues", "/agent?view=open"),
        (jane, "console-ticket", f"/agent/tickets/{number}"),
        (jane, "console-reports", "/agent/reports"),
        (jane, "console-admin", "/agent/admin"),
    ]
    for context, name, path in shots:
        page = context.new_page()
        for label, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(web + path)
            target = out / f"{name}-{label}.png"
            page.screenshot(path=str(target), full_page=True)
            print(target, flush=True)
        page.close()
    anonymous.close()
    jane.close()


def _refused(page: Page) -> None:
    page.get_by_label("Your name").fill("Alice Customer")
    page.get_by_label("Your email address").fill("alice@example")
    page.get_by_label("Help topic").select_option("general")
    page.get_by_label("Subject").fill("Card blocked")
    page.get_by_label("Message").fill("My card was blocked after three tries.")
    page.get_by_role("button", name="Open the ticket").click()
    page.locator("#email-error").wait_for()


if __name__ == "__main__":
    sys.exit(main())
