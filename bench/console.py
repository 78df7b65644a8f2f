"""The agent console's queues on a real stack started for the run (SQLite unless told):

1. **Queue page**: the first page of each view (`GET /agent?view=…`, as Jane, with every
   view's count), p50/p99, with `--tickets` open tickets (and a tenth as many resolved and as
   many closed) written straight into the projection; beside it the list API call that page
   makes for its rows, in alternating rounds.
2. **Live latency**: from a command's 200 (Jane changes a real ticket's priority through the
   API) to the change arriving on John's open `/agent/live` stream, p50/p95.
3. **Idle connections**: `--idle` live connections held open on the one web process: its CPU
   (and intake's, which serves one stream per connection) while nothing happens, over
   `--idle-seconds` (a heartbeat passes every 15 s), and the memory each connection adds.

`python -m bench.console [--tickets 10000] [--samples 40] [--idle 500] [--idle-seconds 60]`
"""

import argparse
import asyncio
import contextlib
import json
import random
import shutil
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from bench.escalation import rss_mib
from bench.load import cpu_seconds, database, rounded
from services.devstack import Stack
from services.web.console.agent import SignedIn
from services.web.console.queues import View, view_params
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.projection import ticket_row
from shared.db.tables import TicketRow
from shared.domain import lifecycle
from shared.domain.enums import Priority, TicketStatus
from shared.percentiles import percentile_cont
from tests.builders import new_input
from tests.processes import family, kill_all, wait_gone

ROOT = Path(__file__).resolve().parents[1]
JANE = "dev-jane-token"
JOHN = "dev-john-token"
PAGE_TARGET_MS = 100.0
LIVE_TARGET_MS = 1000.0
IDLE_CPU_TARGET = 5.0  # percent of one core
FIRST = 200_000  # the seeded tickets' numbers start here, clear of the API's


def ms(seconds: float) -> float:
    return seconds * 1000


def percentiles(values: list[float], *points: float) -> dict[str, float | None]:
    ordered = sorted(values)
    return {f"p{round(p * 100)}": percentile_cont(ordered, p) for p in points}


# Seeding the projection.


def seed_projection(database_url: str, open_tickets: int) -> dict[str, int]:
    """`open_tickets` open and pending tickets, a tenth as many resolved and as many closed,
    as the workflow's publish step writes them (one real state, varied), in bulk."""
    rng = random.Random(20261207)
    now = datetime.now(UTC)
    template, _ = lifecycle.open_ticket(new_input("100000"), now)
    finished = open_tickets // 10
    statuses = (
        [TicketStatus.OPEN] * (open_tickets - open_tickets // 5)
        + [TicketStatus.PENDING] * (open_tickets // 5)
        + [TicketStatus.RESOLVED] * finished
        + [TicketStatus.CLOSED] * finished
    )
    rows: list[dict[str, Any]] = []
    for i, status in enumerate(statuses):
        created = now - timedelta(minutes=rng.randint(5, 30 * 24 * 60))
        state = template.model_copy(deep=True)
        state.number = str(FIRST + i)
        state.subject = f"Seeded ticket {i}: {rng.choice(['login', 'payments', 'statement'])}"
        state.status = status
        state.priority = rng.choice(list(Priority))
        state.assignee = rng.choice(["jane", "john", None])
        state.team = rng.choice(["online-banking", None])
        state.created_at = created
        state.updated_at = created + timedelta(minutes=rng.randint(0, 600))
        running = status in (TicketStatus.OPEN, TicketStatus.PENDING)
        state.overdue = running and rng.random() < 0.05
        due = now + timedelta(minutes=rng.randint(-60, 3 * 24 * 60))
        state.next_due_at = due if running and status is TicketStatus.OPEN else None
        state.version = 1
        rows.append(ticket_row(state))
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine).begin() as session:
            for start in range(0, len(rows), 1000):
                session.execute(insert(TicketRow), rows[start : start + 1000])
    finally:
        engine.dispose()
    return {status.value: statuses.count(status) for status in TicketStatus}


# 1. The queue page.


async def queue_pages(stack: Stack, samples: int) -> dict[str, Any]:
    """Each view's first page through the console beside its list call to the API."""
    jane = SignedIn(token=JANE, handle="jane", name="Jane", email="", role="admin")
    results: dict[str, Any] = {}
    async with (
        httpx.AsyncClient(base_url=stack.web_url, timeout=60) as web,
        httpx.AsyncClient(base_url=stack.intake_url, timeout=60) as api,
    ):
        web.cookies.set("tf_agent", JANE, path="/agent")
        for _ in range(3):  # warm both up
            for view in View:
                (await web.get("/agent", params={"view": view.value})).raise_for_status()
        pages: dict[View, list[float]] = {view: [] for view in View}
        lists: dict[View, list[float]] = {view: [] for view in View}
        for i in range(samples):
            for view in View:
                params = {**view_params(view, jane, datetime.now(UTC)), "per_page": 25}
                params["sort"] = "updated" if view in (View.RESOLVED, View.CLOSED) else "due"

                async def page(view: View = view) -> None:
                    answer = await web.get("/agent", params={"view": view.value})
                    if answer.status_code != 200 or 'id="queue-results"' not in answer.text:
                        raise RuntimeError(f"{view}: {answer.status_code}")

                async def listed(params: dict[str, Any] = params) -> None:
                    answer = await api.get(
                        "/api/v1/tickets",
                        params=params,
                        headers={"Authorization": f"Bearer {JANE}"},
                    )
                    answer.raise_for_status()

                order = ((page, pages), (listed, lists))
                for op, out in order if i % 2 == 0 else tuple(reversed(order)):
                    started = time.perf_counter()
                    await op()
                    out[view].append(ms(time.perf_counter() - started))
        for view in View:
            results[view.value] = {
                "page_ms": percentiles(pages[view], 0.5, 0.99),
                "list_api_ms": percentiles(lists[view], 0.5, 0.99),
            }
        every = [value for values in pages.values() for value in values]
        results["all_views"] = {"page_ms": percentiles(every, 0.5, 0.99)}
    return results


# 2. Live latency.


@dataclass
class Stream:
    """One open `/agent/live` stream, read into `arrived` (ticket -> the times its changes
    arrived) by a task of its own."""

    response: httpx.Response
    arrived: dict[str, list[float]]
    opened: asyncio.Event


async def follow(response: httpx.Response, stream: Stream) -> None:
    data = ""
    with contextlib.suppress(httpx.HTTPError):
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ")
            elif line == "":
                stream.opened.set()
                if data:
                    change = json.loads(data)
                    stream.arrived.setdefault(change["ticket"], []).append(time.perf_counter())
                data = ""


@contextlib.asynccontextmanager
async def live_stream(client: httpx.AsyncClient) -> AsyncIterator[Stream]:
    async with client.stream(
        "GET", "/agent/live", headers={"Accept": "text/event-stream"}
    ) as response:
        if response.status_code != 200:
            raise RuntimeError(f"/agent/live answered {response.status_code}")
        stream = Stream(response, {}, asyncio.Event())
        reader = asyncio.create_task(follow(response, stream))
        try:
            await asyncio.wait_for(stream.opened.wait(), 30)
            yield stream
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def live_latency(stack: Stack, samples: int) -> dict[str, Any]:
    jane = {"Authorization": f"Bearer {JANE}"}
    async with (
        httpx.AsyncClient(base_url=stack.intake_url, timeout=60) as api,
        httpx.AsyncClient(base_url=stack.web_url, timeout=httpx.Timeout(60, read=120)) as web,
    ):
        numbers = []
        for i in range(4):
            created = await api.post(
                "/api/v1/tickets",
                json={
                    "requester": {"name": "Alice", "email": "alice@example.com"},
                    "subject": f"Live latency {i}",
                    "message": "Online banking is down.",
                    "help_topic": "online-banking",
                },
            )
            created.raise_for_status()
            numbers.append(created.json()["number"])
        await asyncio.sleep(2)  # their creation is published before the first sample
        web.cookies.set("tf_agent", JOHN, path="/agent")
        took: list[float] = []
        async with live_stream(web) as stream:
            for i in range(samples):
                number = numbers[i % len(numbers)]
                before = len(stream.arrived.get(number, []))
                priority = "emergency" if (i // len(numbers)) % 2 == 0 else "low"
                answer = await api.post(
                    f"/api/v1/tickets/{number}/priority",
                    json={"priority": priority},
                    headers={**jane, "Idempotency-Key": uuid.uuid4().hex},
                )
                answered = time.perf_counter()
                answer.raise_for_status()
                deadline = answered + 10
                while len(stream.arrived.get(number, [])) <= before:
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"ticket {number}'s change did not arrive in 10 s")
                    await asyncio.sleep(0.002)
                took.append(ms(stream.arrived[number][before] - answered))
                await asyncio.sleep(0.2)
    return {"samples": len(took), "ms": percentiles(took, 0.5, 0.95, 1.0)}


# 3. Idle connections.


async def idle_connections(stack: Stack, count: int, seconds: float) -> dict[str, Any]:
    web_pid, intake_pid = stack.procs["web"].pid, stack.procs["intake"].pid
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    timeout = httpx.Timeout(60, read=None)
    async with httpx.AsyncClient(base_url=stack.web_url, limits=limits, timeout=timeout) as web:
        web.cookies.set("tf_agent", JANE, path="/agent")
        # One connection first: what any first stream starts (the watch, the client) is not
        # counted per connection.
        async with contextlib.AsyncExitStack() as streams:
            await streams.enter_async_context(live_stream(web))
            await asyncio.sleep(2)
            before = {"web": rss_mib(web_pid), "intake": rss_mib(intake_pid)}
            gate = asyncio.Semaphore(50)

            async def open_one() -> None:
                async with gate:
                    await streams.enter_async_context(live_stream(web))

            started = time.perf_counter()
            await asyncio.gather(*(open_one() for _ in range(count - 1)))
            opened_s = time.perf_counter() - started
            await asyncio.sleep(5)  # settled
            after = {"web": rss_mib(web_pid), "intake": rss_mib(intake_pid)}
            cpu_before = {
                "web": cpu_seconds(family(web_pid)),
                "intake": cpu_seconds(family(intake_pid)),
            }
            wall = time.perf_counter()
            await asyncio.sleep(seconds)
            wall = time.perf_counter() - wall
            cpu_after = {
                "web": cpu_seconds(family(web_pid)),
                "intake": cpu_seconds(family(intake_pid)),
            }
    return {
        "connections": count,
        "opened_in_s": opened_s,
        "idle_seconds": wall,
        "cpu_percent_of_a_core": {
            name: 100 * (cpu_after[name] - cpu_before[name]) / wall for name in cpu_after
        },
        "rss_mib_before": before,
        "rss_mib_after": after,
        "kib_per_connection": {
            name: (after[name] - before[name]) * 1024 / (count - 1) for name in after
        },
    }


# The run.


async def measure(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    results["queue_pages"] = await queue_pages(stack, args.samples)
    results["live_latency"] = await live_latency(stack, args.samples)
    results["idle"] = await idle_connections(stack, args.idle, args.idle_seconds)
    return results


def run(args: argparse.Namespace) -> dict[str, Any]:
    var: Path = (args.var / f"console-{args.database}").resolve()
    shutil.rmtree(var, ignore_errors=True)
    var.mkdir(parents=True)
    with database(args.database, None, var) as url:
        stack = Stack.on_free_ports(
            var,
            url,
            temporal_db=str(var / "temporal.db"),
            extra_env={"TEMPORAL_TASK_QUEUE": f"console-{uuid.uuid4().hex[:6]}"},
        )
        seen: set[Any] = set()
        try:
            stack.start_temporal()
            stack.migrate_and_load(ROOT / "config" / "demo.yaml")
            seeded = seed_projection(url, args.tickets)
            stack.start_services()
            for proc in stack.procs.values():
                seen |= family(proc.pid)
            results = asyncio.run(measure(stack, args))
        finally:
            for proc in stack.procs.values():
                seen |= family(proc.pid)
            stack.stop()
            survivors = wait_gone(seen, timeout=10)
            kill_all(survivors)
            if survivors:
                print(f"SURVIVED the stop, killed: {survivors}", file=sys.stderr)
    return {"database": args.database, "seeded": seeded, **results}


def report(results: dict[str, Any]) -> list[str]:
    def f(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f}"

    pages = results["queue_pages"]
    lines = [
        f"Queue page, first page of each view ({results['database']}, seeded {results['seeded']})",
        "| view | page p50 / p99 ms | list API p50 / p99 ms |",
        "|---|---|---|",
    ]
    for view in View:
        row = pages[view.value]
        lines.append(
            f"| {view.value} | {f(row['page_ms']['p50'])} / {f(row['page_ms']['p99'])} "
            f"| {f(row['list_api_ms']['p50'])} / {f(row['list_api_ms']['p99'])} |"
        )
    every = pages["all_views"]["page_ms"]
    lines.append(
        f"every view: p50 {f(every['p50'])} ms, p99 {f(every['p99'])} ms "
        f"(target p50 <= {PAGE_TARGET_MS:.0f} ms)"
    )
    live = results["live_latency"]["ms"]
    lines.append(
        f"Live latency, command 200 -> another agent's /agent/live: p50 {f(live['p50'])} ms, "
        f"p95 {f(live['p95'])} ms, max {f(live['p100'])} ms (target p95 <= "
        f"{LIVE_TARGET_MS:.0f} ms)"
    )
    idle = results["idle"]
    cpu, per = idle["cpu_percent_of_a_core"], idle["kib_per_connection"]
    lines.append(
        f"{idle['connections']} idle live connections (opened in {idle['opened_in_s']:.1f} s), "
        f"over {idle['idle_seconds']:.0f} s: web CPU {cpu['web']:.2f} % of a core, intake "
        f"{cpu['intake']:.2f} % (target < {IDLE_CPU_TARGET:.0f} %); memory per connection: web "
        f"{per['web']:.0f} KiB, intake {per['intake']:.0f} KiB (RSS web "
        f"{idle['rss_mib_before']['web']:.0f} -> {idle['rss_mib_after']['web']:.0f} MiB, intake "
        f"{idle['rss_mib_before']['intake']:.0f} -> {idle['rss_mib_after']['intake']:.0f} MiB)"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--idle", type=int, default=500)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "console.json")
    args = parser.parse_args()
    results = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    saved = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    args.out.write_text(json.dumps({"args": saved, **rounded(results)}, indent=2) + "\n")
    print("\n".join(report(results)))


if __name__ == "__main__":
    main()
