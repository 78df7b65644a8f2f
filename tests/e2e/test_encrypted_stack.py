"""The stack encrypts what it hands to Temporal: a ticket reads and takes commands through
the API as ever, while Temporal's own view of it shows neither its requester nor its subject."""

import subprocess

import httpx
import pytest
from sqlalchemy import select

from services.devstack import Stack
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import DataKeyRow
from shared.domain.ids import ticket_workflow_id
from tests.e2e.conftest import JANE
from tests.servers import binary

pytestmark = pytest.mark.e2e
NAME, EMAIL = "Ottoline Vexbridge", "ottoline.vexbridge@example.net"
SUBJECT = "Vexbridge ledger totals are wrong"


def test_temporal_sees_no_requester_and_the_api_reads_the_ticket(
    api: httpx.Client, stack: Stack
) -> None:
    body = {
        "requester": {"name": NAME, "email": EMAIL},
        "subject": SUBJECT,
        "message": "The totals of March are off by one.",
        "help_topic": "online-banking",
    }
    created = api.post("/api/v1/tickets", json=body)
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    ticket = f"/api/v1/tickets/{number}"
    assert api.post(f"{ticket}/assign", json={"agent": "john"}, headers=JANE).status_code == 200
    read = api.get(ticket, headers=JANE).json()
    assert (read["requester"]["email"], read["subject"]) == (EMAIL, SUBJECT)

    workflow_id = ticket_workflow_id(number)
    shown = temporal(stack, "show", "--detailed", "--workflow-id", workflow_id)
    shown += temporal(stack, "describe", "--workflow-id", workflow_id)
    assert "encryption-key-id" in shown
    for secret in (NAME, EMAIL, SUBJECT):
        assert secret not in shown, secret
    # Its data key is the ticket's own, wrapped under the stack's key-encryption key.
    engine = make_engine(stack.database_url)
    with make_sessionmaker(engine)() as session:
        row = session.scalars(select(DataKeyRow).where(DataKeyRow.scope == workflow_id)).one()
    engine.dispose()
    assert row.kek_id == "test-1" and row.wrapped is not None


def temporal(stack: Stack, *args: str) -> str:
    """What `temporal workflow ...` prints for an operator, who has no codec."""
    address = f"127.0.0.1:{stack.temporal_port}"
    command = [binary("temporal"), "workflow", *args, "--address", address]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=True).stdout
