"""The intake API at its edges, on SQLite and PostgreSQL: out-of-range and control-character
query strings, credentials checked before the body, 405 with `Allow`, the OpenAPI document,
aware UTC times, security headers and CORS, and error bodies that never leak internals."""

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import TicketRow
from shared.reference import service as reference
from shared.settings import Settings
from tests.builders import bearer, create_agents, person

TICKETS = "/api/v1/tickets"
ADMIN = "/api/v1/admin"
REPORTS = "/api/v1/reports"
WINDOW = {"from": "2025-01-01T00:00:00Z", "to": "2025-02-01T00:00:00Z"}
BAD_JSON = {"content": b"{nope", "headers": {"Content-Type": "application/json"}}


@pytest.fixture
def tokens(database_url: str) -> dict[str, str]:
    """One agent per role, bootstrapped through the service layer as the CLI does."""
    roles = ("admin", "agent", "viewer")
    return dict(
        zip(roles, create_agents(database_url, *(person(r, r) for r in roles)), strict=True)
    )


def as_(tokens: dict[str, str], role: str) -> dict[str, str]:
    return bearer(tokens[role])


# 1. Query strings: bounded pages, no control characters


@pytest.mark.parametrize(
    "query",
    [
        {"page": "0"},
        {"page": "10001"},
        {"page": str(10**18)},
        {"page": str(2**63)},
        {"page": str(10**30)},
        {"per_page": "0"},
        {"per_page": "201"},
        {"per_page": str(10**30)},
    ],
)
def test_pages_out_of_range_are_rejected(
    client: TestClient, tokens: dict[str, str], query: dict[str, str]
) -> None:
    response = client.get(TICKETS, params=query, headers=as_(tokens, "agent"))
    assert response.status_code == 422, response.text


def test_last_page_in_range_is_answered(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.get(
        TICKETS, params={"page": "10000", "per_page": "200"}, headers=as_(tokens, "agent")
    )
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize("field", ["q", "assignee", "team", "department", "help_topic"])
@pytest.mark.parametrize("value", ["a\x00b", "a\x1fb", "a\nb", "\x7f"])
def test_control_characters_in_ticket_filters_are_rejected(
    client: TestClient, tokens: dict[str, str], field: str, value: str
) -> None:
    response = client.get(TICKETS, params={field: value}, headers=as_(tokens, "agent"))
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["query", field]


def test_ordinary_text_filters_are_answered(client: TestClient, tokens: dict[str, str]) -> None:
    for q in ("café", "o'brien", "a b"):
        response = client.get(TICKETS, params={"q": q}, headers=as_(tokens, "agent"))
        assert response.status_code == 200, (q, response.text)


def test_a_search_matches_percent_and_underscore_as_written(
    client: TestClient, tokens: dict[str, str], database_url: str
) -> None:
    created = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
    for number, subject in [
        ("000001", "Migration 100%_done"),
        ("000002", "Migration 100 done"),
        ("000003", "Migration 1000done"),
    ]:
        insert_ticket(database_url, number, created, subject=subject)
    response = client.get(TICKETS, params={"q": "100%_done"}, headers=as_(tokens, "agent"))
    assert response.status_code == 200, response.text
    assert [item["subject"] for item in response.json()["items"]] == ["Migration 100%_done"]


@pytest.mark.parametrize(
    "params",
    [
        {**WINDOW, "from": "2025-01-01T00:00:00\x00"},
        {**WINDOW, "group_by": "team\x00"},
        {**WINDOW, "format": "csv\x00"},
    ],
)
def test_control_characters_in_report_filters_are_rejected(
    client: TestClient, tokens: dict[str, str], params: dict[str, str]
) -> None:
    response = client.get(f"{REPORTS}/sla", params=params, headers=as_(tokens, "admin"))
    assert response.status_code == 422, response.text


# 2. Credentials before the body


ADMIN_WRITES = [
    ("POST", f"{ADMIN}/{kind}")
    for kind in ("agents", "teams", "departments", "help-topics", "sla-plans", "schedules")
] + [
    ("PATCH", f"{ADMIN}/{kind}/someone")
    for kind in ("agents", "teams", "departments", "help-topics", "sla-plans", "schedules")
]
TICKET_COMMANDS = [
    ("POST", f"{TICKETS}/123456/{command}")
    for command in ("assign", "priority", "transfer", "notes", "pending", "resolve")
]


@pytest.mark.parametrize(("method", "path"), ADMIN_WRITES)
def test_admin_writes_check_credentials_before_the_body(
    client: TestClient, tokens: dict[str, str], method: str, path: str
) -> None:
    for headers, expected in [
        ({}, 401),
        (bearer("not-a-token"), 401),
        (as_(tokens, "agent"), 403),
        (as_(tokens, "viewer"), 403),
        (as_(tokens, "admin"), 422),
    ]:
        sent = {**BAD_JSON["headers"], **headers}
        response = client.request(method, path, content=BAD_JSON["content"], headers=sent)
        assert response.status_code == expected, (headers, response.text)
    anonymous = client.request(method, path, content=b"x" * 100_000)
    assert anonymous.status_code == 401, "credentials before the body's size, too"


@pytest.mark.parametrize(("method", "path"), TICKET_COMMANDS)
def test_ticket_commands_check_credentials_before_the_body(
    client: TestClient, tokens: dict[str, str], method: str, path: str
) -> None:
    for headers, expected in [
        ({}, 401),
        (bearer("not-a-token"), 401),
        (as_(tokens, "viewer"), 403),
        (as_(tokens, "agent"), 422),
    ]:
        sent = {**BAD_JSON["headers"], **headers}
        response = client.request(method, path, content=BAD_JSON["content"], headers=sent)
        assert response.status_code == expected, (headers, response.text)
    bad_number = client.post(f"{TICKETS}/12/assign", json={"agent": "BAD!"})
    assert bad_number.status_code == 401


def test_replies_check_credentials_before_the_body(
    client: TestClient, tokens: dict[str, str]
) -> None:
    """A requester's token must be the ticket's; a viewer may not reply; both before the body."""
    path = f"{TICKETS}/123456/replies"
    for headers, expected in [
        ({}, 401),
        (bearer("not-this-tickets-token"), 401),
        (as_(tokens, "viewer"), 403),
    ]:
        sent = {**BAD_JSON["headers"], **headers}
        response = client.post(path, content=BAD_JSON["content"], headers=sent)
        assert response.status_code == expected, (headers, response.text)


def test_agent_reads_check_credentials_before_the_query(client: TestClient) -> None:
    assert client.get(TICKETS, params={"page": "0"}).status_code == 401
    assert client.get(f"{REPORTS}/sla", params={"from": "x"}).status_code == 401
    assert client.get(f"{REPORTS}/agents", params={"to": "x"}).status_code == 401


# 3. 405 answers say what is allowed


def concrete(path: str) -> str:
    return path.replace("{number}", "123456").replace("{handle}", "someone")


def test_every_405_lists_the_allowed_methods(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    checked = 0
    for path, operations in paths.items():
        allowed = {method.upper() for method in operations}
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} - allowed:
            response = client.request(method, concrete(path))
            assert response.status_code == 405, (method, path)
            assert set(response.headers["allow"].split(", ")) == allowed, (method, path)
            checked += 1
    assert checked > 50


# 4. The OpenAPI document


def operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def test_openapi_declares_the_bearer_scheme_and_error_answers(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert [s for s in schemes.values() if s == {**s, "type": "http", "scheme": "bearer"}]
    error_body = schema["components"]["schemas"]["ErrorBody"]
    assert error_body["properties"]["detail"]["type"] == "string"
    documented = {(method, path): set(op["responses"]) for method, path, op in operations(schema)}
    for method, path, op in operations(schema):
        for status in {"401", "403", "404", "409"} & set(op["responses"]):
            content = op["responses"][status]["content"]["application/json"]
            assert content["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
        secured = bool(op.get("security"))
        # Opening a ticket needs no credentials; an API key given there is checked (401/403),
        # and one with external references needs an agent's token or a key. Signing in needs
        # none either, and is refused 401 for wrong ones.
        optional = (method, path) in {
            ("POST", TICKETS),
            ("POST", "/api/v1/auth/sessions"),
            ("POST", "/api/v1/auth/oidc"),
        }
        assert secured == ("401" in op["responses"] and not optional), (method, path)
    # 403 wherever credentials are needed: an API key may lack the scope (tickets:read, …).
    expect = {
        ("GET", TICKETS): {"401", "403"},
        ("POST", TICKETS): {"401", "403", "404", "409"},
        ("GET", f"{TICKETS}/{{number}}"): {"401", "403", "404"},
        ("GET", f"{TICKETS}/{{number}}/timeline"): {"401", "403", "404"},
        ("POST", f"{TICKETS}/{{number}}/assign"): {"401", "403", "404", "409"},
        ("POST", f"{TICKETS}/{{number}}/replies"): {"401", "403", "404", "409"},
        ("GET", f"{ADMIN}/agents"): {"401", "403"},
        ("POST", f"{ADMIN}/agents"): {"401", "403", "409"},
        ("GET", f"{ADMIN}/teams/{{handle}}"): {"401", "403", "404"},
        ("PATCH", f"{ADMIN}/schedules/{{handle}}"): {"401", "403", "404", "409"},
        ("GET", f"{REPORTS}/sla"): {"401", "403"},
        ("GET", f"{REPORTS}/agents"): {"401", "403"},
        ("GET", "/healthz"): set(),
    }
    for operation, statuses in expect.items():
        assert documented[operation] & {"401", "403", "404", "409"} == statuses, operation
    assert not schema["paths"][TICKETS]["post"].get("security")


# 5. Times


def insert_ticket(
    database_url: str, number: str, created_at: datetime, *, subject: str = "Printer on fire"
) -> None:
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        session.add(
            TicketRow(
                number=number,
                version=1,
                subject=subject,
                status="open",
                priority="normal",
                source="web",
                requester_name="Ann",
                requester_email="ann@example.com",
                help_topic="general",
                department="support",
                team=None,
                assignee=None,
                sla_plan="default",
                first_response_due=created_at + timedelta(hours=4),
                resolution_due=created_at + timedelta(days=1),
                overdue=False,
                escalation_level=0,
                created_at=created_at,
                updated_at=created_at,
                state={},
            )
        )
        session.commit()
    engine.dispose()


def test_ticket_list_times_are_aware_utc(
    client: TestClient, tokens: dict[str, str], database_url: str
) -> None:
    created = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
    insert_ticket(database_url, "000001", created)
    response = client.get(TICKETS, headers=as_(tokens, "agent"))
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    for field in ("created_at", "updated_at", "first_response_due", "resolution_due"):
        at = datetime.fromisoformat(item[field])
        assert at.utcoffset() == timedelta(0), (field, item[field])
    assert datetime.fromisoformat(item["created_at"]) == created


def test_schedule_times_are_answered_as_written(client: TestClient, tokens: dict[str, str]) -> None:
    hours = {"0": [{"start": "09:00", "end": "12:30"}, {"start": "13:15", "end": "24:00"}]}
    body = {"handle": "office", "name": "Office", "timezone": "UTC", "hours": hours}
    admin = as_(tokens, "admin")
    created = client.post(f"{ADMIN}/schedules", json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["hours"] == hours
    assert client.get(f"{ADMIN}/schedules/office", headers=admin).json()["hours"] == hours
    [listed] = client.get(f"{ADMIN}/schedules", headers=admin).json()["items"]
    assert listed["hours"] == hours
    seconds = {"0": [{"start": "09:00:30", "end": "17:00"}]}
    patched = client.patch(f"{ADMIN}/schedules/office", json={"hours": seconds}, headers=admin)
    assert patched.json()["hours"] == seconds


# 6. Security headers and CORS

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "content-security-policy": "frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def test_every_answer_carries_the_security_headers(
    client: TestClient, tokens: dict[str, str]
) -> None:
    answers = [
        client.get(f"{ADMIN}/agents", headers=as_(tokens, "admin")),  # 200
        client.get(f"{ADMIN}/agents"),  # 401
        client.get(f"{ADMIN}/agents", headers=as_(tokens, "agent")),  # 403
        client.get(f"{ADMIN}/agents/nobody", headers=as_(tokens, "admin")),  # 404
        client.delete(f"{ADMIN}/agents"),  # 405
        client.get(TICKETS, params={"page": "0"}, headers=as_(tokens, "agent")),  # 422
        client.get(
            f"{REPORTS}/sla", params={**WINDOW, "format": "csv"}, headers=as_(tokens, "admin")
        ),
        client.get("/nowhere"),  # 404
    ]
    for response in answers:
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.request.url, name)


def test_cors_is_off_unless_origins_are_listed(client: TestClient) -> None:
    preflight = {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}
    response = client.options(TICKETS, headers=preflight)
    assert "access-control-allow-origin" not in response.headers
    response = client.get("/nowhere", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in response.headers


def test_cors_allows_listed_origins_only_without_credentials(
    client_for: Callable[..., TestClient],
) -> None:
    desk = "https://desk.example.com"
    c = client_for(cors_origins=[desk])
    ask = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = c.options(TICKETS, headers={**ask, "Origin": desk})
    assert allowed.status_code == 200, allowed.text
    assert allowed.headers["access-control-allow-origin"] == desk
    assert "access-control-allow-credentials" not in allowed.headers
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    refused = c.options(TICKETS, headers={**ask, "Origin": "https://evil.example"})
    assert refused.headers.get("access-control-allow-origin") is None
    simple = c.get(f"{ADMIN}/agents", headers={"Origin": desk})
    assert simple.status_code == 401
    assert simple.headers["access-control-allow-origin"] == desk


def test_cors_origins_setting_refuses_a_wildcard_and_reads_a_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValueError, match="wildcard"):
        Settings(cors_origins=["*"])
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("CORS_ORIGINS", "")
    assert Settings().cors_origins == []
    monkeypatch.delenv("CORS_ORIGINS")
    assert Settings().cors_origins == []


# 7. Error bodies never leak


def test_database_errors_answer_without_sql_and_are_logged(
    client: TestClient,
    tokens: dict[str, str],
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE tickets"))
    engine.dispose()
    with caplog.at_level(logging.ERROR):
        response = client.get(TICKETS, params={"q": "secret"}, headers=as_(tokens, "agent"))
    assert response.status_code in (500, 503), response.text
    assert response.json() in (
        {"detail": "internal server error"},
        {"detail": "database is unavailable"},
    )
    for leak in ("SELECT", "tickets", "secret", "Traceback", "sqlalchemy", "psycopg", "sqlite"):
        assert leak.lower() not in response.text.lower()
    assert any(r.exc_info and "tickets" in str(r.exc_info[1]) for r in caplog.records)


def test_unexpected_errors_answer_a_generic_500_and_are_logged(
    client: TestClient,
    tokens: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(**_: Any) -> Any:
        raise RuntimeError("SELECT password FROM vault -- hunter2")

    monkeypatch.setattr(reference, "list_agents", broken)
    with caplog.at_level(logging.ERROR):
        response = client.get(f"{ADMIN}/agents", headers=as_(tokens, "admin"))
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value
    assert any(r.exc_info and "hunter2" in str(r.exc_info[1]) for r in caplog.records)
