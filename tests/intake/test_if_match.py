"""If-Match and ETag over HTTP, with a real Temporal dev server and worker in this process, on
SQLite and PostgreSQL: an integration's key opens and commands a ticket, a command naming the
ticket's current version applies, a stale one is answered 412 and changes nothing."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from services.intake.app import create_app
from services.workflows.worker import build_worker
from shared.db.engine import make_engine, make_sessionmaker
from shared.reference.config_file import load_config
from shared.settings import Settings
from tests.databases import postgres_database, sqlite_database
from tests.devserver import start_dev_server
from tests.processes import family, kill_all, wait_gone

TICKETS = "/api/v1/tickets"
JANE = {"Authorization": "Bearer jane-token-1234"}
REFERENCE = {
    "agents": [
        {
            "handle": "jane",
            "name": "Jane",
            "email": "jane@example.com",
            "role": "admin",
            "token": "jane-token-1234",
        }
    ],
    "departments": [{"handle": "ob", "name": "Online banking", "manager": "jane"}],
    "sla_plans": [
        {
            "handle": "default",
            "name": "Default",
            "first_response": "PT4H",
            "resolution": "P1D",
            "auto_close": "P3D",
        }
    ],
    "help_topics": [
        {"handle": "login", "name": "Login", "department": "ob", "sla_plan": "default"}
    ],
}


@dataclass
class Api:
    client: httpx.AsyncClient
    crm: dict[str, str]  # a key with tickets:create, tickets:read and tickets:write
    reader: dict[str, str]  # a key with tickets:read only


def database(kind: str, directory: Path) -> AbstractContextManager[str]:
    return sqlite_database(directory) if kind == "sqlite" else postgres_database()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    """One dev server per database: each database numbers its tickets from 100000, and the
    workflow ids are the numbers."""
    before = family(os.getpid())
    temporal = await start_dev_server()
    server = {proc for proc in family(os.getpid()) - before if "temporal" in proc.command}
    assert server, "the dev server runs as a child of this process"
    try:
        async for api in _api(request.param, temporal, tmp_path_factory.mktemp("if-match")):
            yield api
    finally:
        await temporal.shutdown()
        survivors = wait_gone(server, timeout=10)
        kill_all(survivors)
        assert not survivors, f"the dev server outlived its shutdown: {survivors}"


async def _api(kind: str, temporal: WorkflowEnvironment, directory: Path) -> AsyncIterator[Api]:
    with database(kind, directory) as url:
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            load_config(session, REFERENCE)
        engine.dispose()
        settings = Settings(
            database_url=url, environment="test", temporal_task_queue=f"q-{uuid.uuid4().hex[:8]}"
        )
        app = create_app(settings, temporal=temporal.client)
        with ThreadPoolExecutor(max_workers=32) as executor:
            async with (
                build_worker(temporal.client, settings, executor),
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://intake", timeout=30
                ) as client,
            ):
                crm = await new_key(
                    client, "crm", "tickets:create", "tickets:read", "tickets:write"
                )
                reader = await new_key(client, "dashboard", "tickets:read")
                yield Api(client=client, crm=crm, reader=reader)


async def new_key(client: httpx.AsyncClient, name: str, *scopes: str) -> dict[str, str]:
    body = {"name": name, "scopes": list(scopes)}
    response = await client.post("/api/v1/admin/api-keys", json=body, headers=JANE)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['key']}"}


async def open_ticket(api: Api) -> dict[str, Any]:
    body = {
        "requester": {"name": "Alice", "email": "alice@example.com"},
        "subject": "Cannot log in",
        "message": "Since this morning.",
        "help_topic": "login",
        "source": "api",
    }
    response = await api.client.post(TICKETS, json=body, headers=api.crm)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_key_opens_and_commands_a_ticket_as_itself(api: Api) -> None:
    ticket = await open_ticket(api)
    number = ticket["number"]
    read = await api.client.get(f"{TICKETS}/{number}", headers=api.crm)
    assert read.status_code == 200 and read.headers["etag"] == f'"{read.json()["version"]}"'
    noted = await api.client.post(
        f"{TICKETS}/{number}/notes", json={"message": "from the CRM"}, headers=api.crm
    )
    assert noted.status_code == 200, noted.text
    assert noted.headers["etag"] == f'"{noted.json()["version"]}"'
    events = await published_events(api, number, "noted")
    key_id = api.crm["Authorization"]  # the actor names the key, never its secret
    assert events[-1]["actor"]["kind"] == "integration" and events[-1]["actor"]["name"] == "crm"
    assert events[-1]["actor"]["handle"].startswith("key:") and key_id not in str(events)
    # A key with tickets:read sees the internal note; one without tickets:write may not act.
    thread = (await api.client.get(f"{TICKETS}/{number}", headers=api.reader)).json()["thread"]
    assert [entry["kind"] for entry in thread] == ["message", "note"]
    refused = await api.client.post(f"{TICKETS}/{number}/close", headers=api.reader)
    assert refused.status_code == 403 and "tickets:write" in refused.json()["detail"]


async def published_events(api: Api, number: str, kind: str) -> list[dict[str, Any]]:
    """The timeline is the projection: it follows the command by a moment."""
    for _ in range(100):
        response = await api.client.get(f"{TICKETS}/{number}/timeline", headers=api.crm)
        assert response.status_code == 200, response.text
        events = [e for e in response.json()["events"] if e["kind"] == kind]
        if events:
            return events
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {kind} event on ticket {number}")


async def test_if_match_with_the_current_version_applies(api: Api) -> None:
    ticket = await open_ticket(api)
    number, version = ticket["number"], ticket["version"]
    response = await api.client.post(
        f"{TICKETS}/{number}/priority",
        json={"priority": "high"},
        headers={**api.crm, "If-Match": f'"{version}"'},
    )
    assert response.status_code == 200, response.text
    assert response.json()["priority"] == "high" and response.json()["version"] == version + 1
    assert response.headers["etag"] == f'"{version + 1}"'
    # The bare number and the weak form name a version too.
    for tag in (str(version + 1), f'W/"{version + 2}"'):
        again = await api.client.post(
            f"{TICKETS}/{number}/notes", json={"message": tag}, headers={**api.crm, "If-Match": tag}
        )
        assert again.status_code == 200, again.text


async def test_if_match_with_a_stale_version_is_412_and_changes_nothing(api: Api) -> None:
    ticket = await open_ticket(api)
    number, seen = ticket["number"], ticket["version"]
    moved = await api.client.post(
        f"{TICKETS}/{number}/assign", json={"agent": "jane"}, headers=api.crm
    )
    assert moved.status_code == 200, moved.text
    current = moved.json()["version"]
    stale = await api.client.post(
        f"{TICKETS}/{number}/priority",
        json={"priority": "emergency"},
        headers={**api.crm, "If-Match": f'"{seen}"'},
    )
    assert stale.status_code == 412, stale.text
    assert stale.json()["detail"] == (
        f"the ticket is at version {current}, not {seen}: read it again and retry"
    )
    after = await api.client.get(f"{TICKETS}/{number}", headers=api.crm)
    assert after.json()["version"] == current and after.json()["priority"] == "normal"
    assert after.headers["etag"] == f'"{current}"'
    # Read again, retry with the version read: it applies.
    retried = await api.client.post(
        f"{TICKETS}/{number}/priority",
        json={"priority": "emergency"},
        headers={**api.crm, "If-Match": after.headers["etag"]},
    )
    assert retried.status_code == 200 and retried.json()["priority"] == "emergency"


async def test_a_retried_command_is_answered_though_its_version_has_passed(api: Api) -> None:
    """The same Idempotency-Key and request: the first outcome, not a 412 for its own change."""
    ticket = await open_ticket(api)
    headers = {**api.crm, "If-Match": str(ticket["version"]), "Idempotency-Key": "crm-42"}
    path = f"{TICKETS}/{ticket['number']}/notes"
    first = await api.client.post(path, json={"message": "once"}, headers=headers)
    second = await api.client.post(path, json={"message": "once"}, headers=headers)
    assert first.status_code == second.status_code == 200, second.text
    assert second.json()["message_count"] == first.json()["message_count"] == 2


async def test_if_match_any_and_bad_if_match(api: Api) -> None:
    ticket = await open_ticket(api)
    path = f"{TICKETS}/{ticket['number']}/notes"
    anything = await api.client.post(
        path, json={"message": "x"}, headers={**api.crm, "If-Match": "*"}
    )
    assert anything.status_code == 200
    credentials = {name.encode(): value.encode() for name, value in api.crm.items()}
    for bad in (b"abc", b'"1", "2"', b"-1", b"1.5", "\uff19".encode(), b"1" * 19):
        headers = {**credentials, b"If-Match": bad}
        response = await api.client.post(path, json={"message": "x"}, headers=headers)
        assert response.status_code == 422, (bad, response.text)
        assert "If-Match" in response.json()["detail"]


def test_the_document_states_if_match_and_412(tmp_path: Path) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'unused.db'}"))
    schema = app.openapi()
    command = schema["paths"]["/api/v1/tickets/{number}/close"]["post"]
    assert any(p["name"] == "If-Match" for p in command["parameters"])
    assert "412" in command["responses"]
    assert "412" not in schema["paths"]["/api/v1/tickets/{number}"]["get"]["responses"]
