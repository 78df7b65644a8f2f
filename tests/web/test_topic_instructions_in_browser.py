"""portal.js in Debian's Chromium: choosing a help topic shows its instructions beside the
select. The portal runs in process (TestClient); the browser's requests to it are routed
there, so the page gets the portal's real answers, CSP included, and no server is started.

Skips when Chromium is not installed (`make test` installs Debian's)."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route, expect

from tests.web.browsers import CHROMIUM, errors_of, new_context
from tests.web.consoles import PORTAL

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(),
    reason="Chromium is not installed (Debian: apt-get install chromium; `make test` does)",
)


@pytest.fixture
def page(browser: Browser, portal: TestClient) -> Iterator[Page]:
    """A page whose requests to the portal's address are answered by `portal`; it fails
    the test on any script error (a CSP refusal included)."""

    def answer(route: Route) -> None:
        request = route.request
        response = portal.request(
            request.method,
            request.url,
            headers=request.headers,
            content=request.post_data_buffer,
        )
        route.fulfill(
            status=response.status_code, headers=dict(response.headers), body=response.content
        )

    context = new_context(browser)
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors = errors_of(page)
    page.route(f"{PORTAL}/**", answer)
    yield page
    context.close()
    assert not errors, errors


def test_choosing_a_topic_shows_its_instructions_beside_the_select(page: Page) -> None:
    page.goto(f"{PORTAL}/tickets/new")
    shown = page.locator("#help_topic-instructions")
    expect(shown).to_have_text("")
    topic = page.get_by_label("Help topic")
    topic.select_option("network")
    expect(shown).to_contain_text("For Network / connectivity, please tell us:")
    expect(shown).to_contain_text("Wired, Wi-Fi or VPN, and since when.")
    topic.select_option("general")  # a topic without instructions
    expect(shown).to_have_text("")
    # After a boosted navigation (htmx swaps the page in), the same.
    page.get_by_role("navigation", name="Portal").get_by_role(
        "link", name="Open a new ticket"
    ).click()
    # The swapped-in form has no topic chosen yet ("general" was, on the page before).
    expect(page.get_by_label("Help topic")).not_to_have_value("general")
    page.get_by_label("Help topic").select_option("online-banking")
    expect(page.locator("#help_topic-instructions")).to_contain_text(
        "The error shown, word for word"
    )
