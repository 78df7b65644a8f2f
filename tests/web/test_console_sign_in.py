"""Agents' sign-in to the console, in process over the real intake API: the same words for a
wrong address and a wrong password, the next path kept only when it is the console's,
CSRF on every post, the second factor, throttling, invites, and signing out."""

import time
from typing import Any
from urllib.parse import urlsplit

import pyotp
import pytest
from fastapi.testclient import TestClient

from services.web.console import oidc
from services.web.console.agent import COOKIE
from services.web.console.sign_in import WRONG, safe_next
from shared.settings import Settings
from tests.web.consoles import (
    JANE,
    PASSWORD,
    PORTAL,
    console,
    csrf_of,
    invite_url,
    set_password,
)


def sign_in_form(web: TestClient, next_path: str = "/agent") -> dict[str, str]:
    page = web.get("/agent/sign-in", params={"next": next_path}).text
    return {"csrf_token": csrf_of(page), "next": next_path}


def post_sign_in(web: TestClient, **fields: str) -> Any:
    return web.post("/agent/sign-in", data={**sign_in_form(web), **fields})


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("/agent", "/agent"),
        ("/agent/tickets/100001?view=mine#latest", "/agent/tickets/100001?view=mine#latest"),
        ("/agent?view=unassigned", "/agent?view=unassigned"),
        ("https://evil.example/agent", "/agent"),
        ("//evil.example/agent", "/agent"),
        ("/agent//evil.example", "/agent"),
        ("/agent/\\evil.example", "/agent"),
        ("/\\evil.example", "/agent"),
        ("/agentevil", "/agent"),
        ("/tickets/100001", "/agent"),
        ("/agent/x\r\nSet-Cookie: a=b", "/agent"),
        ("javascript:alert(1)", "/agent"),
        ("", "/agent"),
    ],
)
def test_only_a_path_of_the_console_is_kept_as_next(raw: str, kept: str) -> None:
    assert safe_next(raw) == kept


def test_the_form_refuses_another_origin_as_next(web: TestClient) -> None:
    page = web.get("/agent/sign-in", params={"next": "https://evil.example/"}).text
    assert 'name="next" value="/agent"' in page
    assert "evil.example" not in page


def test_a_post_without_the_sessions_csrf_token_is_refused(
    web: TestClient, api: TestClient
) -> None:
    set_password(api, "john")
    fields = {"email": "john@example.com", "password": PASSWORD, "next": "/agent"}
    for token in (None, "not-the-token"):
        data = fields if token is None else {**fields, "csrf_token": token}
        refused = web.post("/agent/sign-in", data=data)
        assert refused.status_code == 403
        assert "Nothing was sent" in refused.text
        assert COOKIE not in refused.headers.get("set-cookie", "")
    # Signing out is a post too: a page elsewhere cannot sign an agent out.
    web.cookies.set(COOKIE, "dev-jane-token", domain="portal.test", path="/agent")
    assert web.post("/agent/sign-out").status_code == 403
    assert api.get("/api/v1/auth/me", headers=JANE).status_code == 200


def test_a_wrong_address_and_a_wrong_password_get_the_same_words(
    web: TestClient, api: TestClient
) -> None:
    set_password(api, "john")
    wrong_password = post_sign_in(web, email="john@example.com", password="not the password")
    no_such_agent = post_sign_in(web, email="nobody@example.com", password=PASSWORD)
    for answer in (wrong_password, no_such_agent):
        assert answer.status_code == 401
        assert WRONG in answer.text
        assert COOKIE not in answer.headers.get("set-cookie", "")
    # The address stays in the form, the password never comes back.
    assert 'value="john@example.com"' in wrong_password.text
    assert "not the password" not in wrong_password.text


def test_signing_in_keeps_the_session_and_goes_on_to_next(web: TestClient, api: TestClient) -> None:
    set_password(api, "john")
    form = sign_in_form(web, "/agent/account")
    answer = web.post(
        "/agent/sign-in", data={**form, "email": "John@Example.com", "password": PASSWORD}
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/agent/account"
    header = answer.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header and "path=/agent" in header
    account = web.get("/agent/account")
    assert account.status_code == 200
    assert "John Smith" in account.text


def test_an_open_redirect_is_refused_after_signing_in(web: TestClient, api: TestClient) -> None:
    set_password(api, "john")
    form = {**sign_in_form(web), "next": "https://evil.example/phish"}
    answer = web.post(
        "/agent/sign-in", data={**form, "email": "john@example.com", "password": PASSWORD}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/agent"


def test_signing_out_ends_the_session_at_the_api(web: TestClient, api: TestClient) -> None:
    set_password(api, "john")
    post_sign_in(web, email="john@example.com", password=PASSWORD)
    token = web.cookies.get(COOKIE)
    assert token and token.startswith("tfs_")
    csrf = csrf_of(web.get("/agent/account").text)
    answer = web.post("/agent/sign-out", data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/agent/sign-in?done=out"
    assert (
        api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    )
    again = web.get("/agent/account")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/agent/sign-in?next=/agent/account")


def test_the_second_factor_is_asked_for_and_a_wrong_code_refused(
    web: TestClient, api: TestClient
) -> None:
    set_password(api, "john")
    post_sign_in(web, email="john@example.com", password=PASSWORD)
    csrf = csrf_of(web.get("/agent/account").text)
    setup = web.post("/agent/account/two-factor", data={"csrf_token": csrf})
    assert setup.status_code == 200, setup.text
    secret = setup.text.split('name="secret" value="', 1)[1].split('"', 1)[0]
    totp = pyotp.TOTP(secret)
    confirmed = web.post(
        "/agent/account/two-factor/confirm",
        data={"csrf_token": csrf, "secret": secret, "code": totp.now()},
    )
    assert "Your recovery codes" in confirmed.text
    web.cookies.clear()

    asked = post_sign_in(web, email="john@example.com", password=PASSWORD)
    assert asked.status_code == 200
    assert "Code from your authenticator app" in asked.text
    assert PASSWORD not in asked.text  # carried sealed, never as text
    pending = asked.text.split('name="pending" value="', 1)[1].split('"', 1)[0]
    wrong = post_sign_in(web, pending=pending, code="000000")
    assert wrong.status_code == 401
    assert "That code was not accepted" in wrong.text
    # The next step's code: the confirmation used this step's, and a code is good once.
    right = post_sign_in(web, pending=pending, code=totp.at(time.time() + totp.interval))
    assert right.status_code == 303, right.text
    assert right.headers["location"] == "/agent"


def test_a_recovery_code_signs_in_once(web: TestClient, api: TestClient) -> None:
    set_password(api, "john")
    post_sign_in(web, email="john@example.com", password=PASSWORD)
    csrf = csrf_of(web.get("/agent/account").text)
    setup = web.post("/agent/account/two-factor", data={"csrf_token": csrf}).text
    secret = setup.split('name="secret" value="', 1)[1].split('"', 1)[0]
    confirmed = web.post(
        "/agent/account/two-factor/confirm",
        data={"csrf_token": csrf, "secret": secret, "code": pyotp.TOTP(secret).now()},
    ).text
    recovery = confirmed.split('<ul class="codes"', 1)[1].split("<li>", 2)[1].split("</li>", 1)[0]
    web.cookies.clear()
    for expected in (303, 401):
        asked = post_sign_in(web, email="john@example.com", password=PASSWORD)
        pending = asked.text.split('name="pending" value="', 1)[1].split('"', 1)[0]
        assert post_sign_in(web, pending=pending, code=recovery).status_code == expected
        web.cookies.clear()


def test_a_pending_second_step_is_good_only_in_the_browser_that_began_it(
    web: TestClient, api: TestClient
) -> None:
    set_password(api, "john")
    post_sign_in(web, email="john@example.com", password=PASSWORD)
    csrf = csrf_of(web.get("/agent/account").text)
    secret = web.post("/agent/account/two-factor", data={"csrf_token": csrf}).text
    secret = secret.split('name="secret" value="', 1)[1].split('"', 1)[0]
    totp = pyotp.TOTP(secret)
    web.post(
        "/agent/account/two-factor/confirm",
        data={"csrf_token": csrf, "secret": secret, "code": totp.now()},
    )
    web.cookies.clear()
    asked = post_sign_in(web, email="john@example.com", password=PASSWORD)
    pending = asked.text.split('name="pending" value="', 1)[1].split('"', 1)[0]
    other = TestClient(web.app, base_url=PORTAL, follow_redirects=False)
    stolen = other.post(
        "/agent/sign-in",
        data={**sign_in_form(other), "pending": pending, "code": totp.at(time.time() + 30)},
    )
    assert stolen.status_code == 401
    assert "please sign in again" in stolen.text


def test_the_web_throttles_a_client_after_repeated_wrong_tries(settings: Settings) -> None:
    """Besides the API's own limits (which see the web's address, not the browser's)."""
    strict = settings.model_copy(update={"sign_in_failures_per_client": 2})
    with console(settings, strict) as (web, _):
        wrong = {"email": "john@example.com", "password": "not the password"}
        answers = [post_sign_in(web, **wrong).status_code for _ in range(3)]
        assert answers == [401, 401, 401]
        limited = post_sign_in(web, email="john@example.com", password=PASSWORD)
        assert limited.status_code == 429
        assert "Too many tries: try again in 60 minutes." in limited.text
        assert limited.headers["retry-after"].isdigit()
        assert COOKIE not in limited.headers.get("set-cookie", "")


def test_the_apis_throttling_is_put_in_words(
    web: TestClient, api: TestClient, settings: Settings
) -> None:
    set_password(api, "john")
    for _ in range(settings.sign_in_failures_per_account):
        post_sign_in(web, email="john@example.com", password="not the password")
    limited = post_sign_in(web, email="john@example.com", password=PASSWORD)
    assert limited.status_code == 429
    minutes = settings.sign_in_window_minutes
    assert f"Too many tries: try again in {minutes} minutes." in limited.text


def test_an_admin_without_two_factor_is_sent_to_set_it_up(
    settings: Settings, database: str
) -> None:
    required = settings.model_copy(update={"require_two_factor_for_admins": True})
    with console(required) as (web, api):
        set_password(api, "jane")
        answer = post_sign_in(web, email="jane@example.com", password=PASSWORD)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/agent/account?enrol=1"
        page = web.get(answer.headers["location"]).text
        assert "This desk requires admins to sign in with a second factor" in page


def test_an_invite_sets_a_password_of_twelve_characters_or_more(
    web: TestClient, api: TestClient
) -> None:
    path = urlsplit(invite_url(api, "john")).path
    form = web.get(path)
    assert form.status_code == 200
    assert "John Smith" in form.text and "john@example.com" in form.text
    csrf = csrf_of(form.text)
    short = web.post(
        path, data={"csrf_token": csrf, "password": "too short", "password_again": "too short"}
    )
    assert short.status_code == 422
    assert "At least 12 characters" in short.text
    assert "too short" not in short.text
    differ = web.post(
        path, data={"csrf_token": csrf, "password": PASSWORD, "password_again": PASSWORD + "!"}
    )
    assert differ.status_code == 422
    assert "The two passwords are not the same." in differ.text
    assert (
        web.post(path, data={"password": PASSWORD, "password_again": PASSWORD}).status_code == 403
    )
    done = web.post(
        path, data={"csrf_token": csrf, "password": PASSWORD, "password_again": PASSWORD}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/agent/sign-in?done=password"
    assert "Your password is set" in web.get(done.headers["location"]).text
    used = web.get(path)
    assert used.status_code == 410
    assert "expired or has been used already" in used.text
    assert post_sign_in(web, email="john@example.com", password=PASSWORD).status_code == 303


def test_an_unknown_invite_says_so(web: TestClient) -> None:
    answer = web.get("/agent/invite/not-an-invite-token")
    assert answer.status_code == 410
    assert "Ask an admin to send you a new one" in answer.text


def test_signing_out_everywhere_ends_every_session(web: TestClient, api: TestClient) -> None:
    set_password(api, "john")
    post_sign_in(web, email="john@example.com", password=PASSWORD)
    first = web.cookies.get(COOKIE)
    web.cookies.clear()
    post_sign_in(web, email="john@example.com", password=PASSWORD)
    csrf = csrf_of(web.get("/agent/account").text)
    answer = web.post("/agent/account/sign-out-everywhere", data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert answer.headers["location"] == "/agent/sign-in?done=everywhere"
    assert (
        api.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    )
    assert web.get("/agent/account").status_code == 303


def test_single_sign_on_is_offered_only_when_set_up(web: TestClient) -> None:
    assert "Sign in with SSO" not in web.get("/agent/sign-in").text
    answer = web.get("/agent/sso")
    assert answer.status_code == 404
    assert "Single sign-on is not set up" in answer.text


def test_a_provider_that_cannot_be_reached_is_put_in_words(settings: Settings) -> None:
    sso = settings.model_copy(
        update={"oidc_issuer": "http://127.0.0.1:9", "oidc_client_id": "console"}
    )
    with console(sso) as (web, _):
        page = web.get("/agent/sign-in", params={"next": "/agent/account"}).text
        assert 'href="/agent/sso?next=/agent/account"' in page
        answer = web.get("/agent/sso", params={"next": "/agent/account"})
        assert answer.status_code == 503
        assert "Sign in with your password, or try again" in answer.text


@pytest.mark.parametrize("which", ["no cookie", "another state", "tampered", "expired", "error"])
def test_a_callback_this_browser_did_not_start_is_refused(settings: Settings, which: str) -> None:
    sso = settings.model_copy(
        update={"oidc_issuer": "http://127.0.0.1:9", "oidc_client_id": "console"}
    )
    flight = {"state": "s" * 43, "nonce": "n" * 43, "verifier": "v" * 64, "next": "/agent"}
    started = time.time() - (oidc.FLIGHT_SECONDS + 1 if which == "expired" else 0)
    cookie = oidc.seal(sso, {**flight, "at": started})
    params = {"code": "the-code", "state": flight["state"]}
    if which == "another state":
        params["state"] = "x" * 43
    if which == "tampered":
        cookie = cookie[:-2] + "xx"
    if which == "error":
        params = {"error": "access_denied", "state": flight["state"]}
    with console(sso) as (web, _):
        if which != "no cookie":
            web.cookies.set(oidc.COOKIE, cookie, domain="portal.test", path=oidc.CALLBACK)
        answer = web.get(oidc.CALLBACK, params=params)
        assert answer.status_code == 400
        assert "Single sign-on did not complete" in answer.text
        assert COOKIE not in answer.headers.get("set-cookie", "").split("=")[0]


def test_two_factor_is_turned_off_with_a_code(web: TestClient, api: TestClient) -> None:
    set_password(api, "john")
    post_sign_in(web, email="john@example.com", password=PASSWORD)
    csrf = csrf_of(web.get("/agent/account").text)
    secret = web.post("/agent/account/two-factor", data={"csrf_token": csrf}).text
    secret = secret.split('name="secret" value="', 1)[1].split('"', 1)[0]
    totp = pyotp.TOTP(secret)
    web.post(
        "/agent/account/two-factor/confirm",
        data={"csrf_token": csrf, "secret": secret, "code": totp.now()},
    )
    assert "Turn two-factor sign-in off" in web.get("/agent/account").text
    wrong = web.post("/agent/account/two-factor/off", data={"csrf_token": csrf, "code": "123"})
    assert wrong.status_code == 422
    assert "That code was not accepted" in wrong.text
    off = web.post(
        "/agent/account/two-factor/off",
        data={"csrf_token": csrf, "code": totp.at(time.time() + totp.interval)},
    )
    assert off.status_code == 303
    assert "Two-factor sign-in is off." in web.get(off.headers["location"]).text
    web.cookies.clear()
    assert post_sign_in(web, email="john@example.com", password=PASSWORD).status_code == 303
