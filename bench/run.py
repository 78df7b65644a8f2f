"""`make bench`: ticketflow against the bare Temporal engine, on the same server, in one run.

Figures are ratios to the bare engine measured in the same run: these machines are noisy.
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from sqlalchemy import func, select
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.bare import BareWorkflow
from services.devstack import Stack
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import TicketRow
from shared.domain.ids import ticket_workflow_id

ROOT = Path(__file__).resolve().parents[1]
JANE = {"Authorization": "Bearer dev-jane-token"}


async def timed_concurrently(
    n: int, concurrency: int, op: Callable[[int], Awaitable[None]]
) -> float:
    """Run `op(i)` for i < n with at most `concurrency` at once; return operations per second."""
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await op(i)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return n / (time.perf_counter() - start)


async def latencies(n: int, op: Callable[[int], Awaitable[None]]) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        await op(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


async def interleaved(
    n: int, first: Callable[[int], Awaitable[None]], second: Callable[[int], Awaitable[None]]
) -> tuple[list[float], list[float]]:
    """Latencies of `first` and `second`, taken in alternating rounds (which goes first
    alternates too), so that both see the same machine: background work such as the mail of
    earlier tickets, or a noisy neighbour, weighs on both alike."""
    a: list[float] = []
    b: list[float] = []
    for i in range(n):
        for op, out in ((first, a), (second, b)) if i % 2 == 0 else ((second, b), (first, a)):
            start = time.perf_counter()
            await op(i)
            out.append((time.perf_counter() - start) * 1000)
    return a, b


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def published(stack: Stack, subject: str, count: int, timeout: float = 600) -> None:
    """Wait until the projection holds `count` tickets whose subject starts with `subject`
    (this run's: a PostgreSQL database given with --database-url keeps earlier runs')."""
    sessions = make_sessionmaker(make_engine(stack.database_url))
    query = select(func.count()).select_from(TicketRow).where(TicketRow.subject.startswith(subject))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sessions() as session:
            if (session.scalar(query) or 0) >= count:
                return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"fewer than {count} tickets published after {timeout}s")


async def lifecycle_history(api: httpx.AsyncClient, client: Client) -> dict[str, float]:
    """The standard lifecycle through the API, then its history as the server keeps it:
    create; assign; agent response; requester reply; agent response; resolve; close."""
    created = (
        await api.post(
            "/api/v1/tickets",
            json={
                "requester": {"name": "Alice Customer", "email": "alice@example.com"},
                "subject": "Online banking system down",
                "message": "I cannot log in to online banking since this morning.",
                "help_topic": "online-banking",
            },
        )
    ).json()
    number = created["number"]
    requester = {"Authorization": f"Bearer {created['access_token']}"}
    steps: list[tuple[str, dict[str, object], dict[str, str]]] = [
        ("assign", {"agent": "john"}, JANE),
        ("replies", {"message": "We are looking into it."}, JANE),
        ("replies", {"message": "Thank you, it is still down."}, requester),
        ("replies", {"message": "Fixed: the load balancer was down."}, JANE),
        ("resolve", {"resolution": "Load balancer restarted."}, JANE),
        ("close", {}, JANE),
    ]
    for path, body, headers in steps:
        r = await api.post(f"/api/v1/tickets/{number}/{path}", json=body, headers=headers)
        r.raise_for_status()
    handle = client.get_workflow_handle(ticket_workflow_id(number))
    await handle.result()
    history = await handle.fetch_history()
    proto = sum(event.ByteSize() for event in history.events)
    as_json = len(json.dumps(history.to_json_dict()))
    return {
        "lifecycle_events": len(history.events),
        "lifecycle_kb_proto": proto / 1024,
        "lifecycle_kb_json": as_json / 1024,
    }


async def measure(stack: Stack, tickets: int, concurrency: int, commands: int) -> dict[str, float]:
    client = await Client.connect(
        f"127.0.0.1:{stack.temporal_port}", data_converter=pydantic_data_converter
    )
    run = uuid.uuid4().hex[:6]
    body = {
        "requester": {"name": "Bench", "email": "bench@example.com"},
        "message": "benchmark ticket",
        "help_topic": "online-banking",
    }
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=stack.intake_url, timeout=60, limits=limits) as api:
        history = await lifecycle_history(api, client)

        async def create(i: int) -> None:
            r = await api.post("/api/v1/tickets", json={**body, "subject": f"bench {run} {i}"})
            r.raise_for_status()

        async def bare_start(i: int) -> None:
            await client.start_workflow(
                BareWorkflow.run, id=f"bare-{run}-{i}", task_queue=f"bare-{run}"
            )

        # Warm both paths up, then measure them back to back.
        await timed_concurrently(concurrency, concurrency, create)
        mine = f"bench {run} "
        await published(stack, mine, concurrency)
        t0 = time.perf_counter()
        api_rate = await timed_concurrently(tickets, concurrency, create)
        # Created is not yet processed: the worker opens each ticket (projection, thread,
        # timeline, facts, acknowledgement queued) after the API answered.
        await published(stack, mine, concurrency + tickets)
        processed_rate = tickets / (time.perf_counter() - t0)
        bare_rate = await timed_concurrently(tickets, concurrency, bare_start)

        number = (await api.post("/api/v1/tickets", json={**body, "subject": "latency"})).json()[
            "number"
        ]

        async def note(i: int) -> None:
            r = await api.post(
                f"/api/v1/tickets/{number}/notes", json={"message": f"n{i}"}, headers=JANE
            )
            r.raise_for_status()

        # Unsandboxed, as ticketflow's worker runs its workflow (services/workflows/worker.py).
        bare_worker = Worker(
            client,
            task_queue=f"bare-{run}",
            workflows=[BareWorkflow],
            workflow_runner=UnsandboxedWorkflowRunner(),
        )
        async with bare_worker:
            handle = client.get_workflow_handle_for(BareWorkflow.run, f"bare-{run}-0")

            async def ping(i: int) -> None:
                await handle.execute_update(BareWorkflow.ping, i)

            await latencies(10, ping)
            await latencies(10, note)
            api_lat, bare_lat = await interleaved(commands, note, ping)
            for i in range(tickets):
                await client.get_workflow_handle(f"bare-{run}-{i}").signal(BareWorkflow.finish)
    return {
        **history,
        "api_creates_per_s": api_rate,
        "bare_starts_per_s": bare_rate,
        "create_ratio": api_rate / bare_rate,
        "processed_per_s": processed_rate,
        "processed_ratio": processed_rate / bare_rate,
        "api_command_p50_ms": statistics.median(api_lat),
        "api_command_p99_ms": pct(api_lat, 99),
        "bare_update_p50_ms": statistics.median(bare_lat),
        "bare_update_p99_ms": pct(bare_lat, 99),
        "command_p50_ratio": statistics.median(api_lat) / statistics.median(bare_lat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes, as make run starts them (default: all cores)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "results.json")
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "bench" / "stack")
    args = parser.parse_args()
    var: Path = args.var.resolve()
    shutil.rmtree(var, ignore_errors=True)  # a fresh stack each run; logs stay for reading
    url = args.database_url or f"sqlite:///{var / 'ticketflow.db'}"
    stack = Stack.on_free_ports(
        var,
        url,
        temporal_db=str(var / "temporal.db"),
        worker_processes=args.worker_processes,
        extra_env={"TEMPORAL_TASK_QUEUE": f"bench-{uuid.uuid4().hex[:6]}"},
    )
    try:
        stack.start_temporal()
        stack.migrate_and_load(ROOT / "config" / "demo.yaml")
        stack.start_services()
        results = asyncio.run(measure(stack, args.tickets, args.concurrency, args.commands))
    finally:
        stack.stop()
    results = {k: round(v, 3) for k, v in results.items()}
    print(
        f"database: {url.split(':')[0]}, tickets={args.tickets}, concurrency={args.concurrency}, "
        f"worker processes={args.worker_processes}"
    )
    print(
        f"  standard lifecycle history: {results['lifecycle_events']:.0f} events, "
        f"{results['lifecycle_kb_proto']:.1f} KB (protobuf), "
        f"{results['lifecycle_kb_json']:.1f} KB (JSON export)"
    )
    print(f"  create via API   {results['api_creates_per_s']:8.1f} tickets/s")
    print(f"  bare start       {results['bare_starts_per_s']:8.1f} workflows/s")
    print(f"  ratio            {results['create_ratio']:8.3f}")
    print(
        f"  opened by worker {results['processed_per_s']:8.1f} tickets/s "
        f"(ratio {results['processed_ratio']:.3f}: created and published, acknowledgement queued)"
    )
    for label, key in (("API command", "api_command"), ("bare update", "bare_update")):
        p50, p99 = results[f"{key}_p50_ms"], results[f"{key}_p99_ms"]
        print(f"  {label:<16} p50 {p50:.1f} ms  p99 {p99:.1f} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": vars(args), **results}, indent=2, default=str))
    print(f"  p50 ratio        {results['command_p50_ratio']:8.2f}")


if __name__ == "__main__":
    main()
