"""The change feed on real volume: N events in a throw-away PostgreSQL database, pages of 500
read over HTTP from a real uvicorn server, beside the bare SQL query for the same page.

`python -m bench.feed [--events 1000000] [--database-url URL]`.
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, text

from bench.reports import copy_rows, serving
from shared.access import hash_token
from shared.db.engine import make_engine
from tests import databases

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-feed-admin"
PAGE = 500
RUNS = 9
TICKETS = 20_000

# One event's payload, as the publish step stores it (about 700 bytes of JSON).
PAYLOAD = """json_build_object(
    'id', t || '-' || s, 'type', kind, 'ticket', t::text, 'seq', s,
    'at', to_char(at, 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'internal', false,
    'actor', json_build_object('kind', 'agent', 'name', 'Jane Doe', 'handle', 'jane'),
    'data', json_build_object('agent', 'jane', 'team', 'online-banking'),
    'snapshot', json_build_object('number', t::text, 'version', s, 'subject',
        'Online banking system down for branch ' || t, 'status', 'open', 'priority', 'high',
        'source', 'web', 'help_topic', 'online-banking', 'department', 'it',
        'team', 'online-banking', 'assignee', 'jane', 'requester_name', 'Alice Example',
        'requester_email', 'alice@example.com', 'sla_plan', 'default', 'overdue', false,
        'escalation_level', 0, 'first_response_due', null, 'resolution_due', null,
        'created_at', '2026-11-23T09:00:00Z', 'updated_at', '2026-11-23T09:00:00Z'))"""

KINDS = (
    "(ARRAY['ticket.created','ticket.assigned','ticket.responded','ticket.requester_replied',"
    "'ticket.resolved','ticket.closed'])"
)


def load(engine: Engine, events: int) -> None:
    """`events` events over TICKETS tickets. Their transaction ids are spread over those this
    server has used (a fresh one has used few): every one is settled, as in a live feed."""
    agent = {"handle": "bench-admin", "name": "bench", "email": "b@example.com", "role": "admin"}
    copy_rows(engine, "agents", [{**agent, "token_hash": hash_token(TOKEN), "active": True}])
    with engine.connect() as conn:
        top = conn.execute(text("SELECT txid_snapshot_xmin(txid_current_snapshot())")).scalar_one()
        conn.execute(
            text(f"""
            INSERT INTO ticket_events (txid, event_id, ticket, seq, type, internal, at, payload)
            SELECT 3 + i::bigint * (:top - 4) / :n, t || '-' || s, t::text, s, kind, false, at,
                   {PAYLOAD}
            FROM (
                SELECT i, 100000 + i % {TICKETS} AS t, 1 + i / {TICKETS} AS s,
                       {KINDS}[1 + i % 6] AS kind,
                       timestamptz '2026-01-01' + i * interval '1 second' AS at
                FROM generate_series(0, :n - 1) AS i
            ) AS e
            """),
            {"n": events, "top": top},
        )
        conn.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE ticket_events"))


def bare_page(engine: Engine, after: tuple[int, int]) -> float:
    """The same page by plain SQL, with no HTTP, no auth and no JSON validation."""
    start = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT txid, position, payload FROM ticket_events WHERE (txid, position) > "
                "(:t, :p) AND txid < txid_snapshot_xmin(txid_current_snapshot()) "
                "ORDER BY txid, position LIMIT :n"
            ),
            {"t": after[0], "p": after[1], "n": PAGE},
        ).all()
    assert len(rows) == PAGE
    return (time.perf_counter() - start) * 1000


def cursor_at(engine: Engine, fraction: float, events: int) -> tuple[int, int, str]:
    from shared.db.events import Cursor

    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT txid, position FROM ticket_events ORDER BY txid, position OFFSET :o LIMIT 1"
            ),
            {"o": int(fraction * (events - PAGE - 1))},
        ).one()
    return row.txid, row.position, Cursor(row.txid, row.position).encode()


def measure(engine: Engine, base_url: str, events: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    results: dict[str, Any] = {}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as api:
        for label, fraction in (("start", 0.0), ("middle", 0.5), ("end", 0.99)):
            txid, position, cursor = cursor_at(engine, fraction, events)
            params: dict[str, str | int] = {"limit": PAGE, "after": cursor}
            api.get("/api/v1/events", params=params).raise_for_status()  # warm
            feed, bare = [], []
            for _ in range(RUNS):
                start = time.perf_counter()
                response = api.get("/api/v1/events", params=params)
                feed.append((time.perf_counter() - start) * 1000)
                response.raise_for_status()
                assert len(response.json()["events"]) == PAGE
                bare.append(bare_page(engine, (txid, position)))
            p50, bare_p50 = statistics.median(feed), statistics.median(bare)
            results[label] = {
                "feed_p50_ms": round(p50, 1),
                "feed_max_ms": round(max(feed), 1),
                "bare_sql_p50_ms": round(bare_p50, 1),
                "ratio": round(p50 / bare_p50, 1),
            }
        typed = {"limit": PAGE, "types": "ticket.resolved,ticket.closed"}
        runs = []
        for _ in range(RUNS):
            start = time.perf_counter()
            api.get("/api/v1/events", params=typed).raise_for_status()
            runs.append((time.perf_counter() - start) * 1000)
        results["two_types_from_start"] = {"feed_p50_ms": round(statistics.median(runs), 1)}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default: the tests')")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "feed.json")
    args = parser.parse_args()
    if args.database_url:
        databases.POSTGRES_ADMIN_URL = args.database_url
    os.environ["TICKETFLOW_REQUIRE_POSTGRES"] = "1"
    with databases.postgres_database() as url:
        engine = make_engine(url)
        start = time.perf_counter()
        load(engine, args.events)
        loaded_s = time.perf_counter() - start
        with serving(url) as base_url:
            results = measure(engine, base_url, args.events)
        engine.dispose()
    summary = {
        "events": args.events,
        "page": PAGE,
        "runs": RUNS,
        "load_s": round(loaded_s, 1),
        "results": results,
        "target": "a page of 500 in under 100 ms",
    }
    print(json.dumps(summary, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
