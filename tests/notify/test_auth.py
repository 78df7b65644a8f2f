"""Service token: every path but /healthz refuses a caller without NOTIFY_TOKEN."""

from typing import Any

import httpx
import pytest

from shared.settings import Settings
from tests.notify.builders import assert_refused, notification, queue
from tests.notify.conftest import TOKEN, MailSink

URL = "/api/v1/notifications"

# Every kind of path: the API, the docs, unknown paths and wrong methods.
REQUESTS: list[tuple[str, str, dict[str, Any]]] = [
    ("GET", URL, {"params": {"ticket": "100001"}}),
    ("GET", URL, {}),
    ("POST", URL, {"json": {"ticket": "100001"}}),
    ("DELETE", URL, {}),
    ("GET", "/docs", {}),
    ("GET", "/docs/oauth2-redirect", {}),
    ("GET", "/redoc", {}),
    ("GET", "/openapi.json", {}),
    ("GET", "/no/such/path", {}),
    ("GET", "/healthz/", {}),
]

WRONG_CREDENTIALS: dict[str, dict[str, str]] = {
    "none": {},
    "wrong": {"Authorization": "Bearer wrong-token-of-some-length"},
    "longer": {"Authorization": f"Bearer {TOKEN}x"},
    "prefix": {"Authorization": f"Bearer {TOKEN[:-1]}"},
    "case": {"Authorization": f"Bearer {TOKEN.upper()}"},
    "basic scheme": {"Authorization": f"Basic {TOKEN}"},
    "no scheme": {"Authorization": TOKEN},
    "empty": {"Authorization": "Bearer"},
    "other header": {"X-Api-Key": TOKEN},
}


@pytest.mark.parametrize("notify_db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("method", "path", "options"), REQUESTS)
def test_every_path_but_healthz_refuses_without_the_token(
    anonymous: httpx.Client, sink: MailSink, method: str, path: str, options: dict[str, Any]
) -> None:
    for name, credentials in WRONG_CREDENTIALS.items():
        headers = {**options.get("headers", {}), **credentials}
        response = anonymous.request(method, path, **{**options, "headers": headers})
        assert response.status_code == 401, f"{name}: {response.status_code} {response.text}"
        assert_refused(response)
    assert sink.mails() == []


def test_list_does_not_show_mail_bodies_without_the_token(
    client: httpx.Client, anonymous: httpx.Client, settings: Settings
) -> None:
    secret = "My account number is DE89 3704 0044 0532 0130 00"
    queue(settings.database_url, notification(ticket="400004", body=secret, status="sent"))

    refused = anonymous.get(URL, params={"ticket": "400004"})
    assert_refused(refused)
    assert secret not in refused.text

    listed = client.get(URL, params={"ticket": "400004"})
    assert listed.status_code == 200
    assert [item["body"] for item in listed.json()] == [secret]


@pytest.mark.parametrize("notify_db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json"])
def test_docs_are_served_with_the_token(client: httpx.Client, path: str) -> None:
    assert client.get(path).status_code == 200


def test_healthz_needs_no_token(anonymous: httpx.Client) -> None:
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_healthz_ignores_a_wrong_token(anonymous: httpx.Client) -> None:
    response = anonymous.get("/healthz", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 200


@pytest.mark.parametrize("notify_db_url", ["sqlite"], indirect=True)
def test_openapi_declares_the_bearer_scheme_and_401(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["ServiceToken"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The notify service token (NOTIFY_TOKEN), as "
        "`Authorization: Bearer <token>`.",
    }
    operations = document["paths"][URL]
    assert set(operations) == {"get"}
    for operation in operations.values():
        assert operation["security"] == [{"ServiceToken": []}]
        assert "401" in operation["responses"]
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]
    assert "security" not in document["paths"]["/healthz"]["get"]


def test_every_answer_carries_the_security_headers(
    client: httpx.Client, anonymous: httpx.Client
) -> None:
    answers = [
        anonymous.get("/healthz"),
        anonymous.get("/api/v1/notifications", params={"ticket": "100000"}),  # 401
        client.get("/api/v1/notifications", params={"ticket": "100000"}),
    ]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff", answer.status_code
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["Cache-Control"] == "no-store"
        assert "access-control-allow-origin" not in answer.headers
