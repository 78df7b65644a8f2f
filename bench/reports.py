"""Report latency on real volume: N tickets' facts in a throw-away PostgreSQL database, the
reports timed over HTTP on a real uvicorn server.

`python -m bench.reports [--tickets 100000] [--database-url URL]`; the URL names the PostgreSQL
server (any database on it) in which the throw-away database is created.
"""

import argparse
import csv
import io
import json
import os
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy import Engine, text

from services.intake.app import create_app
from services.processes import free_port
from shared.access import hash_token
from shared.db.engine import make_engine
from shared.settings import Settings
from tests import databases
from tests.intake.report_data import TEAMS, History, Row, generate

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-reports-admin"
DAYS = 180
RUNS = 7


def copy_rows(engine: Engine, table: str, rows: list[Row]) -> None:
    """COPY rows (dicts with the same keys) into `table`: NULL is an unquoted empty field."""
    columns = list(rows[0])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([_cell(row[c]) for c in columns])
    buffer.seek(0)
    raw = engine.raw_connection()
    try:
        cursor: Any = raw.cursor()  # psycopg2's, which has copy_expert
        cursor.copy_expert(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer
        )
        cursor.close()
        raw.commit()
    finally:
        raw.close()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def load(engine: Engine, history: History) -> None:
    people: list[tuple[str, str, str | None]]
    people = [(h, "agent", None) for members in TEAMS.values() for h in members]
    people.append(("bench-admin", "admin", hash_token(TOKEN)))
    agents = [
        {"handle": h, "name": h, "email": f"{h}@example.com", "role": r, "token_hash": t}
        for h, r, t in people
    ]
    copy_rows(engine, "agents", [{**a, "active": True} for a in agents])
    copy_rows(engine, "teams", [{"handle": t, "name": t, "lead": m[0]} for t, m in TEAMS.items()])
    members = [{"team": t, "agent": a} for t, m in TEAMS.items() for a in m]
    copy_rows(engine, "team_members", members)
    copy_rows(engine, "tickets", history.tickets)
    copy_rows(engine, "sla_clock_facts", history.clocks)
    copy_rows(engine, "ticket_event_facts", history.events)
    with engine.connect() as conn:
        # What autovacuum would have done by the time anyone asks for a report.
        conn.execute(text("ANALYZE"))
        conn.commit()


@contextmanager
def serving(url: str) -> Iterator[str]:
    """The intake app on a real uvicorn server in a thread; yields its base URL."""
    port = free_port()
    app = create_app(Settings(database_url=url, environment="test"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def timed(api: httpx.Client, path: str, params: dict[str, str]) -> dict[str, float]:
    api.get(path, params=params).raise_for_status()  # warm: plans, pool, caches
    runs = []
    for _ in range(RUNS):
        start = time.perf_counter()
        response = api.get(path, params=params)
        runs.append((time.perf_counter() - start) * 1000)
        response.raise_for_status()
    return {"p50_ms": round(statistics.median(runs), 1), "max_ms": round(max(runs), 1)}


def measure(base_url: str, now: datetime) -> dict[str, dict[str, float]]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    results = {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as api:
        for label, days in (("all", DAYS + 1), ("30d", 30)):
            window = {"from": (now - timedelta(days=days)).isoformat(), "to": now.isoformat()}
            for name, path, extra in (
                ("sla_team", "/api/v1/reports/sla", {"group_by": "team"}),
                ("sla_agent", "/api/v1/reports/sla", {"group_by": "agent"}),
                ("agents", "/api/v1/reports/agents", {}),
            ):
                results[f"{name}_{label}"] = timed(api, path, {**window, **extra})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: the tests')")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "reports.json")
    args = parser.parse_args()
    if args.database_url:
        databases.POSTGRES_ADMIN_URL = args.database_url
    os.environ["TICKETFLOW_REQUIRE_POSTGRES"] = "1"  # fail, not skip, when it is unreachable

    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = time.perf_counter()
    history = generate(tickets=args.tickets, seed=1, start=now - timedelta(days=DAYS), days=DAYS)
    generated_s = time.perf_counter() - start
    with databases.postgres_database() as url:
        engine = make_engine(url)
        start = time.perf_counter()
        load(engine, history)
        loaded_s = time.perf_counter() - start
        engine.dispose()
        with serving(url) as base_url:
            results = measure(base_url, now)
    summary = {
        "tickets": args.tickets,
        "clock_facts": len(history.clocks),
        "event_facts": len(history.events),
        "generate_s": round(generated_s, 1),
        "load_s": round(loaded_s, 1),
        "runs": RUNS,
        "results": results,
    }
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
