"""The console's admin pages, in process over the real intake API: admins only, CSRF on every
post, hostile names and addresses shown as text, and each action as the API's."""

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from services.web.console.agent import COOKIE
from shared.db import mail_in
from shared.db.engine import make_engine, make_sessionmaker
from tests.web.consoles import JANE, PASSWORD, csrf_of, set_password

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
PAGES = (
    "/agent/admin",
    "/agent/admin/agents/new",
    "/agent/admin/agents/john",
    "/agent/admin/alerts",
    "/agent/admin/mail-in",
)


def as_agent(web: TestClient, token: str) -> TestClient:
    web.cookies.set(COOKIE, token, domain="portal.test", path="/agent")
    return web


@pytest.fixture
def admin(web: TestClient) -> TestClient:
    return as_agent(web, "dev-jane-token")


@pytest.mark.parametrize("token", ["dev-john-token", "dev-vera-token"])
def test_admin_pages_are_for_admins_only(web: TestClient, token: str) -> None:
    as_agent(web, token)
    for path in PAGES:
        answer = web.get(path)
        assert answer.status_code == 403, path
        assert "Only admins may see this page" in answer.text
    csrf = csrf_of(web.get("/agent/admin").text)
    refused = web.post("/agent/admin/agents/vera/deactivate", data={"csrf_token": csrf})
    assert refused.status_code == 403
    assert web.get("/agent/account").status_code == 200  # vera is still active


def test_admin_pages_need_a_signed_in_agent(web: TestClient) -> None:
    for path in PAGES:
        answer = web.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == f"/agent/sign-in?next={path}"


def test_admin_posts_without_the_csrf_token_are_refused(admin: TestClient, api: TestClient) -> None:
    posts = {
        "/agent/admin/agents": {
            "handle": "mallory",
            "name": "M",
            "email": "m@example.com",
            "role": "admin",
        },
        "/agent/admin/agents/john": {"role": "admin"},
        "/agent/admin/agents/john/deactivate": {},
        "/agent/admin/agents/john/invite": {},
        "/agent/admin/agents/john/reset-two-factor": {},
        "/agent/admin/agents/john/sign-out": {},
        "/agent/account/two-factor": {},
        "/agent/account/sign-out-everywhere": {},
    }
    for path, form in posts.items():
        assert admin.post(path, data=form).status_code == 403, path
        assert admin.post(path, data={**form, "csrf_token": "forged"}).status_code == 403, path
    john = api.get("/api/v1/admin/agents/john", headers=JANE).json()
    assert john["role"] == "agent" and john["active"] is True
    assert api.get("/api/v1/admin/agents/mallory", headers=JANE).status_code == 404


def test_hostile_names_and_addresses_are_shown_as_text(admin: TestClient, api: TestClient) -> None:
    created = api.post(
        "/api/v1/admin/agents",
        headers=JANE,
        json={
            "handle": "mallory",
            "name": f"Mallory {HOSTILE}",
            "email": "o'mallory&co@example.com",
            "role": "agent",
        },
    )
    assert created.status_code == 201, created.text
    for path in ("/agent/admin", "/agent/admin/agents/mallory"):
        page = admin.get(path).text
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "Mallory &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page, path
        assert "o&#39;mallory&amp;co@example.com" in page, path


def test_an_admin_adds_and_invites_an_agent(admin: TestClient, api: TestClient) -> None:
    csrf = csrf_of(admin.get("/agent/admin/agents/new").text)
    form = {
        "csrf_token": csrf,
        "handle": "nina",
        "name": "Nina <New>",
        "email": "nina@example.com",
        "role": "agent",
        "teams": ["online-banking"],
    }
    answer = admin.post("/agent/admin/agents", data=form)
    assert answer.status_code == 200, answer.text
    assert "Invite sent to Nina &lt;New&gt;" in answer.text
    assert "was mailed to nina@example.com" in answer.text
    assert "/agent/invite/" in answer.text
    nina = api.get("/api/v1/admin/agents/nina", headers=JANE).json()
    assert nina["teams"] == ["online-banking"]
    again = admin.post("/agent/admin/agents", data=form)
    assert again.status_code == 409
    assert "This could not be done" in again.text
    assert 'value="nina@example.com"' in again.text  # the form stays filled


def test_an_admin_changes_role_and_teams(admin: TestClient, api: TestClient) -> None:
    page = admin.get("/agent/admin/agents/john").text
    answer = admin.post(
        "/agent/admin/agents/john",
        data={"csrf_token": csrf_of(page), "role": "viewer", "teams": ["online-banking"]},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/agent/admin/agents/john?done=saved"
    john = api.get("/api/v1/admin/agents/john", headers=JANE).json()
    assert john["role"] == "viewer" and john["teams"] == ["online-banking"]
    assert "Saved." in admin.get(answer.headers["location"]).text
    unknown = admin.post(
        "/agent/admin/agents/john",
        data={"csrf_token": csrf_of(page), "role": "viewer", "teams": ["no-such-team"]},
    )
    assert unknown.status_code in (404, 409, 422)
    assert "This could not be done" in unknown.text or "no such" in unknown.text.lower()


def test_a_deactivated_agent_is_out_at_once(admin: TestClient, api: TestClient) -> None:
    csrf = csrf_of(admin.get("/agent/admin/agents/john").text)
    answer = admin.post("/agent/admin/agents/john/deactivate", data={"csrf_token": csrf})
    assert answer.status_code == 303
    assert "Deactivated" in admin.get(answer.headers["location"]).text
    assert (
        api.get("/api/v1/auth/me", headers={"Authorization": "Bearer dev-john-token"}).status_code
        == 401
    )
    back = admin.post("/agent/admin/agents/john/reactivate", data={"csrf_token": csrf})
    assert back.status_code == 303
    assert api.get("/api/v1/admin/agents/john", headers=JANE).json()["active"] is True


def test_the_alerts_and_the_inbound_mail_log_are_shown(admin: TestClient, database: str) -> None:
    alerts = admin.get("/agent/admin/alerts")
    assert alerts.status_code == 200
    assert "Tickets whose workflow stopped" in alerts.text
    assert admin.get("/agent/admin/mail-in").text.count("No inbound mail yet.") == 1
    engine = make_engine(database)
    mail_in.record_unparseable(
        make_sessionmaker(engine),
        raw=b"garbage",
        reason=HOSTILE,
        sender=f"{HOSTILE}@example.com",
        now=datetime.now(UTC),
    )
    engine.dispose()
    refused = admin.get("/agent/admin/mail-in", params={"outcome": "refused"})
    assert refused.status_code == 200
    assert "<script>alert" not in refused.text and "<img src=x" not in refused.text
    assert "refused: unparseable: &lt;script&gt;" in refused.text
    assert "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;@example.com" in refused.text
    created = admin.get("/agent/admin/mail-in", params={"outcome": "created"})
    assert "No inbound mail with this outcome yet." in created.text
    assert admin.get("/agent/admin/mail-in", params={"outcome": "<bogus>"}).status_code == 200


def test_an_admin_signs_an_agent_out_and_invites_them_again(
    admin: TestClient, api: TestClient
) -> None:
    set_password(api, "john")
    signed_in = api.post(
        "/api/v1/auth/sessions", json={"email": "john@example.com", "password": PASSWORD}
    )
    johns = {"Authorization": f"Bearer {signed_in.json()['token']}"}
    csrf = csrf_of(admin.get("/agent/admin/agents/john").text)
    out = admin.post("/agent/admin/agents/john/sign-out", data={"csrf_token": csrf})
    assert out.status_code == 303
    assert "every session of theirs has ended" in admin.get(out.headers["location"]).text
    assert api.get("/api/v1/auth/me", headers=johns).status_code == 401

    reset = admin.post("/agent/admin/agents/john/reset-two-factor", data={"csrf_token": csrf})
    assert reset.status_code == 303
    assert "Two-factor sign-in is reset" in admin.get(reset.headers["location"]).text

    first = admin.post("/agent/admin/agents/john/invite", data={"csrf_token": csrf})
    second = admin.post("/agent/admin/agents/john/invite", data={"csrf_token": csrf})
    for answer in (first, second):
        assert answer.status_code == 200
        assert "A link to set a password was mailed to john@example.com" in answer.text
    links = [a.text.split("<code>", 1)[1].split("</code>", 1)[0] for a in (first, second)]
    assert links[0] != links[1]
    assert api.get(f"/api/v1/auth/invites/{links[0].rsplit('/', 1)[1]}").status_code == 410
    assert api.get(f"/api/v1/auth/invites/{links[1].rsplit('/', 1)[1]}").status_code == 200
