"""What the codec tests share: a database with the demo agents, the codec server's settings,
payloads sealed under a ticket's own key as the worker seals them, and the protocol's JSON."""

import asyncio
import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from temporalio.api.common.v1 import Payload
from temporalio.converter import WorkflowSerializationContext

from shared.crypto.key_ring import KeyRing
from shared.crypto.key_store import KeyStore
from shared.db.engine import make_engine, make_sessionmaker
from shared.domain.ids import ticket_workflow_id
from shared.reference.config_file import load_config
from shared.settings import Settings
from shared.temporal.codec import EncryptionCodec
from shared.temporal.converter import data_converter
from tests.builders import TEST_ENCRYPTION_KEYS
from tests.databases import sqlite_database

ROOT = Path(__file__).resolve().parents[2]
UI = "http://127.0.0.1:8233"
# The demo agents' tokens (config/demo.yaml): Vera is a viewer.
VERA = {"Authorization": "Bearer dev-vera-token"}


@contextmanager
def demo_database(directory: Path) -> Iterator[str]:
    """A migrated SQLite database with the demo configuration (its agents among it)."""
    with sqlite_database(directory) as url:
        engine = make_engine(url)
        with make_sessionmaker(engine)() as session:
            load_config(session, ROOT / "config" / "demo.yaml")
        engine.dispose()
        yield url


def codec_settings(database_url: str, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "encryption_keys": SecretStr(TEST_ENCRYPTION_KEYS),
        "codec_cors_origins": [UI],
        **changes,
    }
    return Settings(**values)


def plain(value: object) -> Payload:
    """`value` as the project's payload converter makes it (JSON), before encryption."""
    return data_converter(None).payload_converter.to_payloads([value])[0]


def sealed(database_url: str, number: str, value: object) -> Payload:
    """`value` encrypted under ticket `number`'s own data key, as its workflow's are."""

    async def seal() -> Payload:
        engine = make_engine(database_url)
        try:
            keys = KeyStore(make_sessionmaker(engine), KeyRing.parse(TEST_ENCRYPTION_KEYS))
            context = WorkflowSerializationContext(
                namespace="default", workflow_id=ticket_workflow_id(number)
            )
            [payload] = await EncryptionCodec(keys).with_context(context).encode([plain(value)])
            return payload
        finally:
            engine.dispose()

    return asyncio.run(seal())


def body(*payloads: Payload) -> dict[str, Any]:
    """The protocol's JSON of `payloads`, as the UI and CLI send it."""
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


def values(answer: dict[str, Any]) -> list[tuple[str, Any]]:
    """Each answered payload's encoding and its data, as JSON where it is JSON."""
    found = []
    for payload in answer["payloads"]:
        encoding = base64.b64decode(payload["metadata"]["encoding"]).decode()
        data = base64.b64decode(payload.get("data", ""))
        found.append((encoding, json.loads(data) if encoding == "json/plain" else data))
    return found
