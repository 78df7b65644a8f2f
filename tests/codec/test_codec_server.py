"""The codec server in process, on a real SQLite database with the demo agents: payloads
round-trip, plain ones pass through, an erased key reads "[erased]" without spoiling its
batch, only agents decode (a viewer too), and CORS answers the Temporal UI's origin alone."""

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from services.codec.app import create_app
from shared.crypto.key_ring import KeyRing
from shared.crypto.key_store import KeyStore
from shared.db import agent_sessions, api_keys
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import AgentRow
from shared.domain.ids import ticket_workflow_id
from shared.domain.scopes import Scope
from shared.settings import Settings
from shared.temporal.codec import ENCODING
from tests.builders import TEST_ENCRYPTION_KEYS, bearer
from tests.codec.helpers import UI, VERA, body, codec_settings, demo_database, plain, sealed
from tests.codec.helpers import values as values_of

SUBJECT = "Quarterly statement shows a stranger's address"
PREFLIGHT = {
    "Origin": UI,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type,x-namespace",
}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    with demo_database(tmp_path) as url:
        yield url


def running(settings: Settings, client: tuple[str, int] = ("192.0.2.7", 50000)) -> TestClient:
    """The codec app (its start-up run by `with`), called from `client`'s address."""
    return TestClient(create_app(settings), base_url="http://127.0.0.1:8003", client=client)


@pytest.fixture
def codec(database: str) -> Iterator[TestClient]:
    with running(codec_settings(database)) as client:
        yield client


def decode(client: TestClient, payloads: dict[str, Any], **headers: str) -> Any:
    answer = client.post("/decode", json=payloads, headers={**VERA, **headers})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_tickets_payload_decodes_and_an_encoded_one_round_trips(
    codec: TestClient, database: str
) -> None:
    ticket = sealed(database, "100001", {"subject": SUBJECT})
    assert SUBJECT.encode() not in ticket.SerializeToString()
    # The UI's path, and the CLI's with its namespace (`--codec-endpoint URL/{namespace}`).
    for path in ("/decode", "/default/decode"):
        answer = codec.post(path, json=body(ticket), headers={**VERA, "X-Namespace": "default"})
        assert answer.status_code == 200, answer.text
        assert values_of(answer.json()) == [("json/plain", {"subject": SUBJECT})]
    encoded = codec.post("/encode", json=body(plain({"note": SUBJECT})), headers=VERA)
    assert encoded.status_code == 200, encoded.text
    assert [encoding for encoding, _ in values_of(encoded.json())] == [ENCODING.decode()]
    assert SUBJECT not in encoded.text
    assert values_of(decode(codec, encoded.json())) == [("json/plain", {"note": SUBJECT})]


def test_payloads_never_encrypted_pass_through(codec: TestClient) -> None:
    payloads = body(plain("from before encryption"), plain({"n": 1}))
    assert decode(codec, payloads) == payloads
    assert decode(codec, {"payloads": []}) == {"payloads": []}


def test_an_erased_key_reads_erased_and_the_rest_of_the_batch_decodes(
    codec: TestClient, database: str
) -> None:
    erased = sealed(database, "100002", {"subject": SUBJECT})
    kept = sealed(database, "100003", {"subject": "Card declined abroad"})
    foreign = sealed(database, "100004", "x")
    foreign.metadata["encryption-key-id"] = b"0" * 32  # a key of another database

    async def erase() -> None:
        engine = make_engine(database)
        keys = KeyStore(make_sessionmaker(engine), KeyRing.parse(TEST_ENCRYPTION_KEYS))
        assert await keys.erase(ticket_workflow_id("100002"))
        engine.dispose()

    asyncio.run(erase())
    answer = decode(codec, body(erased, kept, foreign, plain("plain")))
    assert values_of(answer) == [
        ("json/plain", "[erased]"),
        ("json/plain", {"subject": "Card declined abroad"}),
        ("json/plain", "[unreadable]"),
        ("json/plain", "plain"),
    ]


def test_a_body_that_is_no_payloads_is_400(codec: TestClient) -> None:
    for content in (b"not json", b'{"payloads": [{"data": "not base64!"}]}'):
        answer = codec.post("/decode", content=content, headers=VERA)
        assert answer.status_code == 400, content
        assert "detail" in answer.json()


def test_decoding_needs_an_agents_credential(codec: TestClient, database: str) -> None:
    payloads = body(plain("x"))
    for headers in ({}, {"Authorization": "Basic dmVyYTp4"}, bearer("not-a-token")):
        refused = codec.post("/decode", json=payloads, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.headers["www-authenticate"] == "Bearer"
        assert set(refused.json()) == {"detail"}
        assert codec.post("/encode", json=payloads, headers=headers).status_code == 401
    engine = make_engine(database)
    with make_sessionmaker(engine).begin() as session:
        now = datetime.now(UTC)
        _, key = api_keys.create(
            session,
            name="crm",
            scopes=[Scope.TICKETS_READ],
            expires_at=None,
            created_by="jane",
            now=now,
        )
        session.execute(update(AgentRow).where(AgentRow.handle == "john").values(active=False))
    engine.dispose()
    # An integration's key is no agent's; a deactivated agent's token is nobody's.
    assert codec.post("/decode", json=payloads, headers=bearer(key)).status_code == 403
    assert codec.post("/decode", json=payloads, headers=bearer("dev-john-token")).status_code == 401


def test_any_agent_decodes_a_viewer_too_by_token_or_sign_in_session(
    codec: TestClient, database: str
) -> None:
    engine = make_engine(database)
    with make_sessionmaker(engine).begin() as session:
        started = agent_sessions.start(
            session,
            agent="vera",
            method="password",
            now=datetime.now(UTC),
            idle=timedelta(minutes=60),
            lifetime=timedelta(hours=1),
            must_enrol_two_factor=False,
        )
        enrolling = agent_sessions.start(
            session,
            agent="jane",
            method="password",
            now=datetime.now(UTC),
            idle=timedelta(minutes=60),
            lifetime=timedelta(hours=1),
            must_enrol_two_factor=True,
        )
    engine.dispose()
    payloads = body(plain("x"))
    for token in ("dev-vera-token", "dev-jane-token", started.token):
        assert codec.post("/decode", json=payloads, headers=bearer(token)).status_code == 200
    # A session that must set up two-factor first may do nothing else.
    refused = codec.post("/decode", json=payloads, headers=bearer(enrolling.token))
    assert refused.status_code == 403


def test_in_development_a_loopback_caller_needs_no_credential(database: str) -> None:
    payloads = body(plain("x"))
    settings = codec_settings(database, environment="development")
    with running(settings, client=("127.0.0.1", 40000)) as local:
        assert local.post("/decode", json=payloads).status_code == 200
        # A page of another site whose name was rebound to 127.0.0.1 names its own host.
        rebound = local.post("/decode", json=payloads, headers={"Host": "evil.example:8003"})
        assert rebound.status_code == 401
        assert local.post("/decode", json=payloads, headers=bearer("wrong")).status_code == 401
    with running(settings) as remote:
        assert remote.post("/decode", json=payloads).status_code == 401
    with running(codec_settings(database), client=("127.0.0.1", 40000)) as tested:
        assert tested.post("/decode", json=payloads).status_code == 401  # not development


def test_cors_answers_the_temporal_ui_origin_alone(codec: TestClient) -> None:
    for path in ("/decode", "/encode", "/default/decode"):
        allowed = codec.options(path, headers=PREFLIGHT)
        assert allowed.status_code == 200, path
        assert allowed.headers["access-control-allow-origin"] == UI
        assert allowed.headers["access-control-allow-credentials"] == "true"
        assert "POST" in allowed.headers["access-control-allow-methods"]
        allowed_headers = allowed.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "x-namespace"} <= set(
            allowed_headers.replace(" ", "").split(",")
        )
        other = codec.options(path, headers={**PREFLIGHT, "Origin": "http://127.0.0.1:8234"})
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
    # The answers themselves, a refusal too, are readable by the UI's page alone.
    answer = codec.post("/decode", json=body(plain("x")), headers={**VERA, "Origin": UI})
    assert answer.headers["access-control-allow-origin"] == UI
    refused = codec.post("/decode", json=body(plain("x")), headers={"Origin": UI})
    assert (refused.status_code, refused.headers["access-control-allow-origin"]) == (401, UI)
    other = codec.post("/decode", json=body(plain("x")), headers={**VERA, "Origin": "https://x.io"})
    assert "access-control-allow-origin" not in other.headers


def test_the_codec_needs_encryption_keys(database: str) -> None:
    with pytest.raises(ValueError, match="ENCRYPTION_KEYS"):
        create_app(codec_settings(database, encryption_keys=None))
    with pytest.raises(ValueError, match="OIDC_ISSUER"):
        create_app(codec_settings(database, codec_oidc_audience="temporal-ui"))
