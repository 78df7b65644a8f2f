"""Requesters' data on request over HTTP, on SQLite and PostgreSQL, with Temporal unreachable:
admins only; bad input is a 422; an erasure that cannot start answers 503 and is kept (asking
again joins it, audited once); an export answers from the projection, without internal notes,
audited under a keyed hash of the address."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.processes import free_port
from shared.db import scrub
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import AuditEntryRow, ErasureRow, MessageBodyRow
from shared.domain.erasure import requester_ref
from shared.settings import DEV_SECRET
from tests.builders import agent_headers, seed_ticket

REQUESTERS = "/api/v1/admin/requesters"


@pytest.fixture
def client(client_for: Callable[..., TestClient]) -> TestClient:
    return client_for(temporal_address=f"127.0.0.1:{free_port()}", temporal_rpc_timeout_seconds=2)


@pytest.fixture
def admin(database_url: str) -> dict[str, str]:
    return agent_headers(database_url, "root", "admin", "Root")


def rows(database_url: str) -> tuple[list[ErasureRow], list[AuditEntryRow]]:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            return (
                list(session.scalars(select(ErasureRow))),
                list(session.scalars(select(AuditEntryRow).order_by(AuditEntryRow.id))),
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("role", ["agent", "viewer"])
def test_only_admins_may_erase_or_export(client: TestClient, database_url: str, role: str) -> None:
    someone = agent_headers(database_url, "someone", role)
    erase = {"email": "ann@example.com"}
    for headers, status in (({}, 401), (someone, 403)):
        assert client.post(f"{REQUESTERS}/erase", json=erase, headers=headers).status_code == status
        export = client.get(f"{REQUESTERS}/export", params=erase, headers=headers)
        assert export.status_code == status
        erasure = client.get(f"{REQUESTERS}/erasures/{'a' * 32}", headers=headers)
        assert erasure.status_code == status


@pytest.mark.parametrize(
    "body",
    [{}, {"email": "not an address"}, {"email": "ann@"}, {"email": 7}, {"email": "a@b.c", "x": 1}],
)
def test_an_erasure_needs_one_valid_address(
    client: TestClient, admin: dict[str, str], body: object
) -> None:
    answer = client.post(f"{REQUESTERS}/erase", json=body, headers=admin)
    assert answer.status_code == 422, answer.text


@pytest.mark.parametrize(
    "params",
    [{}, {"email": "nobody"}, {"email": "a@b.c", "files": "zip"}, {"email": "a@b.c", "x": 1}],
)
def test_an_export_needs_one_valid_address(
    client: TestClient, admin: dict[str, str], params: dict[str, str]
) -> None:
    answer = client.get(f"{REQUESTERS}/export", params=params, headers=admin)
    assert answer.status_code == 422, answer.text


def test_an_unknown_erasure_is_404_and_a_malformed_id_422(
    client: TestClient, admin: dict[str, str]
) -> None:
    assert client.get(f"{REQUESTERS}/erasures/{'0' * 32}", headers=admin).status_code == 404
    assert client.get(f"{REQUESTERS}/erasures/ann@example.com", headers=admin).status_code == 422


def test_an_erasure_that_cannot_start_is_kept_and_joined(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    for email in ("Ann@Example.com", "ann@example.com "):
        answer = client.post(f"{REQUESTERS}/erase", json={"email": email}, headers=admin)
        assert answer.status_code == 503, answer.text
        assert "temporal" in answer.text
    [erasure], entries = rows(database_url)
    ref = requester_ref(DEV_SECRET, "ann@example.com")
    assert (erasure.email, erasure.pending, erasure.status) == ("ann@example.com", ref, "running")
    [requested] = [entry for entry in entries if entry.entity_kind == "requester"]
    assert (requested.action, requested.entity_id, requested.actor_handle) == (
        "erasure_requested",
        ref,
        "root",
    )
    assert "ann" not in requested.summary
    progress = client.get(f"{REQUESTERS}/erasures/{erasure.id}", headers=admin)
    assert progress.status_code == 200
    assert progress.json() | {"requested_at": None} == {
        "id": erasure.id,
        "status": "running",
        "requested_at": None,
        "finished_at": None,
        "tickets_found": None,
        "tickets_erased": 0,
    }


def test_an_export_holds_the_public_thread_of_each_ticket(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    seed_ticket(
        database_url,
        "100001",
        email="Ann@example.com",
        message="My printer smokes",
        responses=("Unplug it",),
        notes=("She has the old model",),
        closed=True,
    )
    seed_ticket(database_url, "100002", name="Bob", email="bob@example.com")
    answer = client.get(f"{REQUESTERS}/export", params={"email": "ann@EXAMPLE.com"}, headers=admin)
    assert answer.status_code == 200, answer.text
    export = answer.json()
    assert export["email"] == "ann@example.com"
    [ticket] = export["tickets"]
    assert ticket["number"] == "100001"
    assert ticket["requester"] == {"name": "Ann Requester", "email": "Ann@example.com"}
    assert [(e["kind"], e["body"]) for e in ticket["thread"]] == [
        ("message", "My printer smokes"),
        ("response", "Unplug it"),
    ]
    assert ticket["rating_comments"] == [] and export["files"] == []
    nobody = client.get(f"{REQUESTERS}/export", params={"email": "eve@example.com"}, headers=admin)
    assert nobody.status_code == 200
    assert nobody.json()["tickets"] == nobody.json()["notifications"] == []
    _, entries = rows(database_url)
    exported = [entry for entry in entries if entry.action == "exported"]
    assert [entry.entity_id for entry in exported] == [
        requester_ref(DEV_SECRET, "ann@example.com"),
        requester_ref(DEV_SECRET, "eve@example.com"),
    ]
    assert not any("example.com" in entry.summary for entry in exported)


def test_an_erased_ticket_takes_no_message(
    client: TestClient, admin: dict[str, str], database_url: str
) -> None:
    seed_ticket(database_url, "100001", email="ann@example.com", closed=True)
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            scrub.scrub_ticket(session, "100001")
        reply = client.post(
            "/api/v1/tickets/100001/replies", json={"message": "Ann writes again"}, headers=admin
        )
        assert reply.status_code == 409, reply.text
        assert "erased" in reply.json()["detail"]
        with make_sessionmaker(engine)() as session:
            assert session.scalars(select(MessageBodyRow.body)).all() == []
    finally:
        engine.dispose()
