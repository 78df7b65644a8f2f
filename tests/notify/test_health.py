"""/healthz asks the database for real, needs no token, and says 503 when it is gone."""

import shutil
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

from shared.settings import Settings
from tests.databases import POSTGRES_ADMIN_URL, cut_off, postgres_database, sqlite_database
from tests.notify.conftest import MailSink, running_server

DOWN = {"status": "unavailable", "checks": {"database": "down: OperationalError"}}


def test_healthz_is_503_when_the_sqlite_directory_is_gone(tmp_path: Path, sink: MailSink) -> None:
    directory = tmp_path / "db"
    directory.mkdir()
    with sqlite_database(directory) as url:
        settings = Settings(
            environment="test",
            database_url=url,
            smtp_port=sink.port,
            notify_token="x" * 16,
            # The delivery loops would connect first.
            notify_deliver_outbox=False,
            notify_deliver_webhooks=False,
        )
        with running_server(settings) as base_url, httpx.Client(base_url=base_url) as http:
            # Removed before the app's first connection: SQLite cannot open the file.
            shutil.rmtree(directory)
            response = http.get("/healthz")
            assert response.status_code == 503
            assert response.json() == DOWN


def test_healthz_turns_503_when_the_postgres_database_goes_away(sink: MailSink) -> None:
    with postgres_database() as url:
        settings = Settings(
            environment="test", database_url=url, smtp_port=sink.port, notify_token="x" * 16
        )
        with running_server(settings) as base_url, httpx.Client(base_url=base_url) as http:
            assert http.get("/healthz").status_code == 200

            drop_database(url)

            response = http.get("/healthz")
            assert response.status_code == 503
            assert response.json() == DOWN
            # The API itself answers 503 too, to a caller with the token.
            listed = http.get(
                "/api/v1/notifications",
                params={"ticket": "1"},
                headers={"Authorization": "Bearer " + "x" * 16},
            )
            assert listed.status_code == 503


def drop_database(url: str) -> None:
    """Cut the app's connections and drop its database, as an outage would leave it."""
    name = make_url(url).database
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            cut_off(conn, str(name))
            conn.execute(text(f'DROP DATABASE "{name}"'))
    finally:
        admin.dispose()


def test_healthz_needs_no_token_and_says_what_it_checked(anonymous: httpx.Client) -> None:
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok"}}
    assert "www-authenticate" not in response.headers


def test_openapi_documents_healthz_503(client: httpx.Client) -> None:
    health = client.get("/openapi.json").json()["paths"]["/healthz"]["get"]
    assert "503" in health["responses"]
