"""Determinism: recorded histories of earlier code replay cleanly against today's workflow,
those recorded before payloads were encrypted and those recorded since."""

import base64
import json
import os
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHistory
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from services.workflows.ticket_workflow import TicketWorkflow
from shared.crypto.key_ring import KeyRing
from shared.crypto.key_store import KeyStore
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import DataKeyRow
from shared.db.writes import insert_new
from shared.domain.enums import Action, Priority
from shared.domain.models import AttachmentRef
from shared.temporal.codec import ENCODING, KEY_ID
from shared.temporal.converter import data_converter
from tests.builders import REQUESTER, TEST_ENCRYPTION_KEYS, cmd, new_input, ref
from tests.databases import sqlite_database
from tests.payloads import payloads_of
from tests.workflows.conftest import send, start

HISTORIES = Path(__file__).with_name("histories")
# The data keys of the encrypted histories, as their rows were (wrapped under the tests'
# ENCRYPTION_KEYS): one file beside each history it belongs to.
DATA_KEYS = HISTORIES / "data_keys"


def replayer(keys: KeyStore) -> Replayer:
    return Replayer(workflows=[TicketWorkflow], data_converter=data_converter(keys))


@pytest.mark.parametrize("path", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_history_replays(path: Path, tmp_path: Path) -> None:
    """Each with the data keys recorded beside it, and no other."""
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))
    with sqlite_database(tmp_path) as url:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        stored = DATA_KEYS / path.name
        if stored.exists():
            # Encrypted throughout, but for the SDK's own record of each local activity (its
            # type, sequence number and times) beside its encrypted result.
            payloads = [p for e in history.events for p in payloads_of(e)]
            plain = [p for p in payloads if p.metadata["encoding"] != ENCODING]
            assert len(plain) < len(payloads)
            assert all(json.loads(p.data).keys() >= {"seq", "activity_type"} for p in plain)
            restore_keys(sessions, json.loads(stored.read_text()))
        keys = KeyStore(sessions, KeyRing.parse(TEST_ENCRYPTION_KEYS))
        await replayer(keys).replay_workflow(history)
        engine.dispose()


async def test_fresh_lifecycle_history_replays(
    worker: tuple[Client, str],
    time_env: WorkflowEnvironment,
    key_store: KeyStore,
    key_sessions: sessionmaker[Session],
) -> None:
    client, queue = worker
    handle = await start(client, queue, new_input(number=str(uuid.uuid4().int % 900_000 + 100_000)))
    await send(handle, cmd(Action.ASSIGN, agent="john"))
    await send(handle, cmd(Action.CHANGE_PRIORITY, priority=Priority.EMERGENCY))
    await time_env.sleep(timedelta(hours=1))
    await send(handle, cmd(Action.RESPOND, message=ref("On it")))
    await send(handle, cmd(Action.RESOLVE))
    await send(handle, cmd(Action.REQUESTER_REPLY, REQUESTER, message=ref("again")))
    await send(handle, cmd(Action.CLOSE))
    await handle.result()
    history = await handle.fetch_history()
    await replayer(key_store).replay_workflow(history)
    if record := os.environ.get("TICKETFLOW_RECORD_HISTORY"):
        (HISTORIES / f"{record}.json").write_text(json.dumps(history.to_json_dict(), indent=1))
        ids = {p.metadata[KEY_ID].decode() for e in history.events for p in payloads_of(e)}
        keys = dump_keys(key_sessions, ids)
        (DATA_KEYS / f"{record}.json").write_text(json.dumps(keys, indent=1))


async def test_a_history_with_attachments_replays(
    worker: tuple[Client, str], time_env: WorkflowEnvironment, key_store: KeyStore
) -> None:
    """File references ride on messages through updates, state and the publish step, and the
    history they leave replays; the files themselves never enter it."""
    client, queue = worker
    file = AttachmentRef(
        id="f" * 40, name="trace.log", content_type="text/plain", size=4096, sha256="a" * 64
    )
    first = ref("see the log").model_copy(update={"attachments": [file]})
    data = new_input(number=str(uuid.uuid4().int % 900_000 + 100_000), message=first)
    handle = await start(client, queue, data)
    note = ref("and the dump").model_copy(update={"attachments": [file, file]})
    await send(handle, cmd(Action.NOTE, message=note))
    state = await handle.query(TicketWorkflow.state)
    assert state.attachment_bytes == 3 * 4096
    await send(handle, cmd(Action.CLOSE))
    await handle.result()
    history = await handle.fetch_history()
    await replayer(key_store).replay_workflow(history)


def dump_keys(sessions: sessionmaker[Session], ids: set[str]) -> list[dict[str, Any]]:
    with sessions() as session:
        rows = session.scalars(select(DataKeyRow).where(DataKeyRow.id.in_(ids))).all()
        return [
            {
                "id": row.id,
                "scope": row.scope,
                "kek_id": row.kek_id,
                "wrapped": base64.b64encode(row.wrapped or b"").decode(),
                "created_at": row.created_at.isoformat(),
            }
            for row in rows
        ]


def restore_keys(sessions: sessionmaker[Session], rows: list[dict[str, Any]]) -> None:
    restored = [
        {
            **row,
            "wrapped": base64.b64decode(row["wrapped"]),
            "created_at": datetime.fromisoformat(row["created_at"]),
            "erased_at": None,
        }
        for row in rows
    ]
    with sessions() as session:
        insert_new(session, DataKeyRow, restored)
        session.commit()
