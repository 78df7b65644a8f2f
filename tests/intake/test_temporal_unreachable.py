"""Temporal never reached since the intake started (its lazy client's first connection fails,
which the SDK raises as a RuntimeError, not an RPCError): a read answers from the projection,
a command 503, never a 500."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from services.processes import free_port
from shared.access import requester_token
from shared.settings import DEV_SECRET
from tests.builders import seed_ticket


@pytest.fixture
def unreachable(client_for: Callable[..., TestClient]) -> TestClient:
    return client_for(temporal_address=f"127.0.0.1:{free_port()}", temporal_rpc_timeout_seconds=2)


def test_a_read_answers_from_the_projection_and_a_command_503(
    unreachable: TestClient, database_url: str
) -> None:
    seed_ticket(database_url, "100007", responses=("We are on it",))
    requester = {"Authorization": f"Bearer {requester_token(DEV_SECRET, '100007')}"}
    read = unreachable.get("/api/v1/tickets/100007", headers=requester)
    assert read.status_code == 200, read.text
    assert [entry["body"] for entry in read.json()["thread"]][-1] == "We are on it"
    reply = unreachable.post(
        "/api/v1/tickets/100007/replies", json={"message": "Still smoking"}, headers=requester
    )
    assert reply.status_code == 503, reply.text
    assert "temporal" in reply.text.lower()
