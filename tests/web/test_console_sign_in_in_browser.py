"""Agents sign in to the console in a real browser (Playwright driving Debian's Chromium)
against the real stack, and against a real OpenID Connect provider the test starts
(`oidc-provider-mock`): an invite sets the password, wrong passwords are throttled, the second
factor is a TOTP code, single sign-on maps the provider's verified address to an agent, and a
deactivated agent is thrown out. Every page state visited is checked with axe-core."""

import email
import email.policy
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from services.devstack import Stack
from services.processes import free_port, terminate, wait_healthy
from tests.e2e.conftest import JANE, eventually, started_stack
from tests.web.browsers import JANE_TOKEN, accessible, agent_context, new_context

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery staple"
CLIENT_ID = "ticketflow-console"
# The provider's people: Jane's address (an active agent), and one no agent has.
IDP_USERS = (
    {"sub": "jane-at-idp", "email": "jane@example.com", "email_verified": True},
    {"sub": "stranger-at-idp", "email": "stranger@example.com", "email_verified": True},
)
FAILURES_PER_ACCOUNT = 3


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A page of its own browser context (its own cookies); a script error or a CSP refusal
    fails the test (a page answered 401 or 429 is logged too, and is no error here)."""
    context = new_context(browser)
    errors: list[str] = []
    opened = context.new_page()
    opened.on("pageerror", lambda err: errors.append(str(err)))
    # Only the CSP's refusals: the provider's own pages ask for assets on the internet.
    opened.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield opened
    context.close()
    assert errors == []


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """A real OpenID Connect provider on a free port: discovery, authorization, tokens."""
    port = free_port()
    users = [arg for user in IDP_USERS for arg in ("--user-claims", json.dumps(user))]
    proc = subprocess.Popen(
        [sys.executable, "-m", "oidc_provider_mock", "--port", str(port), *users],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{issuer}/.well-known/openid-configuration", timeout=30, proc=proc)
        yield issuer
    finally:
        terminate([proc])


@pytest.fixture(scope="module")
def stack(provider: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """This module's own (not conftest.py's): the console signs in against `provider`."""
    settings = {
        "OIDC_ISSUER": provider,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": "console-secret",
        "SIGN_IN_FAILURES_PER_ACCOUNT": str(FAILURES_PER_ACCOUNT),
    }
    with started_stack("sqlite", tmp_path_factory.mktemp("sign-in"), extra_env=settings) as s:
        yield s


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.intake_url, headers=JANE, timeout=30) as client:
        yield client


def new_agent(api: httpx.Client, handle: str, *, password: bool = True) -> str:
    """A new agent (their address answered); with `password`, set through the API's invite."""
    email = f"{handle}@example.com"
    body = {"handle": handle, "name": handle.title(), "email": email, "role": "agent"}
    assert api.post("/api/v1/admin/agents", json=body).status_code == 201
    if password:
        token = urlsplit(invite(api, handle)).path.rsplit("/", 1)[1]
        answer = api.post(f"/api/v1/auth/invites/{token}", json={"password": PASSWORD})
        assert answer.status_code == 204, answer.text
    return email


def invite(api: httpx.Client, handle: str) -> str:
    answer = api.post(f"/api/v1/admin/agents/{handle}/invite")
    assert answer.status_code == 201, answer.text
    url: str = answer.json()["url"]
    return url


def mailed_invite(stack: Stack, address: str) -> str | None:
    """The link in the invite mail to `address`, as the mail sink received it (notify puts it
    there as it sends: the outbox holds none)."""
    for path in sorted((stack.var / "mail").glob("*.eml")):
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address not in str(mail["To"]) or not str(mail["Subject"]).startswith("Your invit"):
            continue
        body = mail.get_body(preferencelist=("plain",))
        found = re.search(r"\S+/agent/invite/\S+", body.get_content() if body else "")
        return found.group(0) if found else None
    return None


def sign_in(page: Page, web: str, email: str, password: str = PASSWORD) -> None:
    """From the account page (sent to the sign-in page and back)."""
    page.goto(f"{web}/agent/account")
    expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_an_invited_agent_sets_a_password_signs_in_and_out(
    page: Page, api: httpx.Client, stack: Stack
) -> None:
    email = new_agent(api, "ines", password=False)
    link = invite(api, "ines")
    assert eventually(lambda: mailed_invite(stack, email), what="the invite mail") == link
    page.goto(link)
    expect(page.get_by_role("heading", name="Set your password")).to_be_visible()
    accessible(page, "invite")
    page.get_by_label("New password").fill("short")
    page.get_by_label("The same password again").fill("short")
    page.get_by_role("button", name="Set the password").click()
    # The browser's own check (minlength) holds the form: nothing was sent.
    expect(page.get_by_role("heading", name="Set your password")).to_be_visible()
    page.get_by_label("New password").fill(PASSWORD)
    page.get_by_label("The same password again").fill(PASSWORD)
    page.get_by_role("button", name="Set the password").click()
    expect(page.get_by_text("Your password is set: sign in with it.")).to_be_visible()
    accessible(page, "sign-in after the invite")

    sign_in(page, stack.web_url, email, "not the password")
    expect(page.get_by_text("Wrong email address or password")).to_be_visible()
    expect(page.get_by_label("Email address")).to_have_value(email)
    accessible(page, "wrong password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{stack.web_url}/agent/account")
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    accessible(page, "account")

    page.get_by_role("button", name="Sign out", exact=True).click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    page.goto(f"{stack.web_url}/agent/account")
    expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()


def test_repeated_wrong_passwords_are_throttled(
    page: Page, api: httpx.Client, stack: Stack
) -> None:
    email = new_agent(api, "theo")
    for _ in range(FAILURES_PER_ACCOUNT):
        sign_in(page, stack.web_url, email, "not the password")
        expect(page.get_by_text("Wrong email address or password")).to_be_visible()
    sign_in(page, stack.web_url, email)  # the right one, too late
    expect(
        page.get_by_text(re.compile(r"Too many tries: try again in \d+ minutes?\."))
    ).to_be_visible()
    expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    accessible(page, "throttled")


def test_two_factor_sign_in_with_a_totp_code(page: Page, api: httpx.Client, stack: Stack) -> None:
    email = new_agent(api, "tara")
    sign_in(page, stack.web_url, email)
    page.get_by_role("button", name="Set up two-factor sign-in").click()
    secret = page.locator("dd.secret").first.inner_text().strip()
    totp = pyotp.TOTP(secret)
    accessible(page, "two-factor setup")
    page.get_by_label("Code from your authenticator app").fill(totp.now())
    page.get_by_role("button", name="Turn two-factor sign-in on").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.get_by_role("list", name="Recovery codes").get_by_role("listitem")).to_have_count(
        10
    )
    accessible(page, "recovery codes")
    page.get_by_role("link", name="I have kept them").click()
    expect(page.get_by_text("Two-factor sign-in is on.")).to_be_visible()
    page.get_by_role("button", name="Sign out", exact=True).click()

    sign_in(page, stack.web_url, email)
    code = page.get_by_label("Code from your authenticator app")
    expect(code).to_be_visible()
    accessible(page, "second step")
    code.fill("000000")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("That code was not accepted")).to_be_visible()
    # The next step's code: the one the set-up used is good only once.
    page.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{stack.web_url}/agent/account")
    expect(page.get_by_text("On: signing in with your password also asks")).to_be_visible()


def test_single_sign_on_against_a_real_provider(page: Page, stack: Stack) -> None:
    web = stack.web_url
    page.goto(f"{web}/agent/sign-in?next=/agent/account")
    page.get_by_role("link", name="Sign in with SSO").click()
    expect(page).to_have_url(re.compile(r"http://127\.0\.0\.1:\d+/oauth2/authorize\?"))
    assert "code_challenge_method=S256" in page.url and "nonce=" in page.url
    page.get_by_role("button", name="jane-at-idp").click()
    expect(page).to_have_url(f"{web}/agent/account")
    expect(page.get_by_text("jane@example.com")).to_be_visible()
    page.get_by_role("button", name="Sign out", exact=True).click()

    page.goto(f"{web}/agent/sign-in")
    page.get_by_role("link", name="Sign in with SSO").click()
    page.get_by_role("button", name="stranger-at-idp").click()
    expect(page.get_by_role("heading", name="No agent has this address")).to_be_visible()
    accessible(page, "SSO refused")
    page.goto(f"{web}/agent/account")
    expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()


def test_a_deactivated_agent_is_thrown_out_on_the_next_request(
    browser: Browser,
    page: Page,
    api: httpx.Client,
    stack: Stack,
) -> None:
    email = new_agent(api, "dora")
    sign_in(page, stack.web_url, email)
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()

    # Jane deactivates Dora on the admin pages, in her own browser.
    admin = agent_context(browser, stack, JANE_TOKEN)
    try:
        jane = admin.new_page()
        jane.goto(f"{stack.web_url}/agent/admin")
        expect(jane.get_by_role("heading", name="Agents")).to_be_visible()
        accessible(jane, "agents")
        jane.get_by_role("link", name="dora").click()
        accessible(jane, "one agent")
        jane.get_by_role("button", name="Deactivate Dora").click()
        expect(jane.get_by_text("Deactivated: their sessions have ended")).to_be_visible()
        accessible(jane, "deactivated")
        jane.get_by_role("link", name="Alerts").click()
        expect(jane.get_by_role("heading", name="Alerts")).to_be_visible()
        accessible(jane, "alerts")
        jane.get_by_role("link", name="Inbound mail").click()
        expect(jane.get_by_role("heading", name="Inbound mail")).to_be_visible()
        accessible(jane, "inbound mail")
    finally:
        admin.close()

    page.reload()
    expect(page.get_by_role("heading", name="Sign in to the console")).to_be_visible()
    assert "next=/agent/account" in page.url
    sign_in(page, stack.web_url, email)
    expect(page.get_by_text("Wrong email address or password")).to_be_visible()
