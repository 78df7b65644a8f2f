"""`make bench`: ticketflow against the bare Temporal engine, on the same server, in one run;
with and without payload encryption side by side (bench/encryption.py), their measurements
taken in alternating rounds.

Figures are ratios to the bare engine measured in the same run: these machines are noisy.
"""

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench import key_loads
from bench.bare import BareWorkflow
from bench.encryption import (
    ENCRYPTED,
    PLAIN,
    VARIANTS,
    encrypted_twin,
    payload_sizes,
    plain_env,
    start_twin,
    stopped_checked,
)
from bench.run_report import report, rounded
from services.devstack import Stack
from services.processes import Stopping
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import TicketRow
from shared.domain.ids import ticket_workflow_id
from tests.processes import family

ROOT = Path(__file__).resolve().parents[1]
JANE = {"Authorization": "Bearer dev-jane-token"}
BODY = {
    "requester": {"name": "Bench", "email": "bench@example.com"},
    "message": "benchmark ticket",
    "help_topic": "online-banking",
}


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


async def rotating(
    rounds: int,
    ops: dict[str, Callable[[int], Awaitable[None]]],
    spans: dict[str, list[tuple[float, float]]] | None = None,
) -> dict[str, list[float]]:
    """Latencies (ms) of each op, every op once a round and the order rotating from round to
    round, so that the machine's noise weighs on each alike and none always follows another.
    `spans`, if given, gets each sample's start and end (epoch seconds)."""
    names = list(ops)
    taken: dict[str, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            began, start = time.time(), time.perf_counter()
            await ops[name](i)
            taken[name].append((time.perf_counter() - start) * 1000)
            if spans is not None:
                spans.setdefault(name, []).append((began, time.time()))
    return taken


@dataclass
class Side:
    """One variant: its services (the plain stack, or its encrypted twin), a Temporal client
    with their data converter and an HTTP client of their intake."""

    name: str
    stack: Stack
    client: Client
    api: httpx.AsyncClient


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
    await asyncio.wait_for(handle.result(), timeout=120)  # closed: the workflow ends
    # As the server keeps it: fetch_history leaves the payloads encoded.
    history = await handle.fetch_history()
    proto = sum(event.ByteSize() for event in history.events)
    as_json = len(json.dumps(history.to_json_dict()))
    return {
        "lifecycle_events": len(history.events),
        "lifecycle_kb_proto": proto / 1024,
        "lifecycle_kb_json": as_json / 1024,
        **payload_sizes(history.events),
    }


async def histories(sides: list[Side]) -> dict[str, dict[str, float]]:
    """Two lifecycles per variant (A B B A), averaged: their sizes differ by a few bytes."""
    taken: dict[str, list[dict[str, float]]] = {side.name: [] for side in sides}
    for side in [*sides, *reversed(sides)]:
        taken[side.name].append(await lifecycle_history(side.api, side.client))
    return {
        name: {key: statistics.mean(h[key] for h in runs) for key in runs[0]}
        for name, runs in taken.items()
    }


async def creates(
    sides: list[Side], bare: Client, *, run: str, tickets: int, concurrency: int
) -> dict[str, dict[str, float]]:
    """Tickets created per second through each variant's API, and opened by its worker, beside
    bare starts: in two rounds of half the tickets each, the order reversed in the second."""

    def create_on(side: Side) -> Callable[[int], Awaitable[None]]:
        async def create(i: int) -> None:
            subject = f"bench {run} {side.name} {i}"
            r = await side.api.post("/api/v1/tickets", json={**BODY, "subject": subject})
            r.raise_for_status()

        return create

    async def bare_start(i: int) -> None:
        await bare.start_workflow(BareWorkflow.run, id=f"bare-{run}-{i}", task_queue=f"bare-{run}")

    made = {side.name: concurrency for side in sides}
    for side in sides:  # warm-up
        await timed_concurrently(concurrency, concurrency, create_on(side))
        await published(side.stack, f"bench {run} {side.name} ", concurrency, timeout=300)
    created_s = dict.fromkeys(made, 0.0)
    opened_s = dict.fromkeys(made, 0.0)
    bare_s = 0.0
    half = tickets // 2
    for r in range(2):
        order: list[Side | None] = [*sides, None]
        for turn in order if r == 0 else reversed(order):
            first = concurrency + r * half  # ids and subjects stay unique across rounds
            start = time.perf_counter()
            if turn is None:
                await timed_concurrently(half, concurrency, shifted(bare_start, r * half))
                bare_s += time.perf_counter() - start
                continue
            await timed_concurrently(half, concurrency, shifted(create_on(turn), first))
            created_s[turn.name] += time.perf_counter() - start
            # Created is not yet processed: the worker opens each ticket (projection, thread,
            # timeline, facts, acknowledgement queued) after the API answered.
            made[turn.name] += half
            await published(turn.stack, f"bench {run} {turn.name} ", made[turn.name], timeout=300)
            opened_s[turn.name] += time.perf_counter() - start
    bare_rate = 2 * half / bare_s
    out: dict[str, dict[str, float]] = {"bare": {"starts_per_s": bare_rate}}
    for name in made:
        out[name] = {
            "creates_per_s": 2 * half / created_s[name],
            "create_ratio": 2 * half / created_s[name] / bare_rate,
            "opened_per_s": 2 * half / opened_s[name],
            "opened_ratio": 2 * half / opened_s[name] / bare_rate,
        }
    return out


async def commands(
    sides: list[Side], *, run: str, rounds: int, bare_started: int, lookups: Path
) -> dict[str, dict[str, float]]:
    """An internal note through each variant's API beside a bare update round trip, without
    the codec and through it (the encrypted side's client), in rotating rounds; and the
    data-key lookups (`lookups`, bench/key_loads.py) that encrypted samples waited for."""
    ops: dict[str, Callable[[int], Awaitable[None]]] = {}
    for side in sides:
        created = await side.api.post(
            "/api/v1/tickets", json={**BODY, "subject": f"latency {side.name}"}
        )
        created.raise_for_status()
        ops[side.name] = _note(side.api, created.json()["number"])
    plain, encrypted = (next(s for s in sides if s.name == n) for n in (PLAIN, ENCRYPTED))
    bare_sealed_queue = f"bare-{ENCRYPTED}-{run}"
    # Unsandboxed, as ticketflow's worker runs its workflow (services/workflows/worker.py).
    workers = [
        Worker(
            client,
            task_queue=queue,
            workflows=[BareWorkflow],
            workflow_runner=UnsandboxedWorkflowRunner(),
        )
        for client, queue in ((plain.client, f"bare-{run}"), (encrypted.client, bare_sealed_queue))
    ]
    async with workers[0], workers[1]:
        ops["bare"] = _ping(plain.client.get_workflow_handle_for(BareWorkflow.run, f"bare-{run}-0"))
        sealed = await encrypted.client.start_workflow(
            BareWorkflow.run, id=bare_sealed_queue, task_queue=bare_sealed_queue
        )
        ops[f"bare_{ENCRYPTED}"] = _ping(sealed)
        await rotating(10, ops)  # warm-up
        spans: dict[str, list[tuple[float, float]]] = {}
        taken = await rotating(rounds, ops, spans)
        services = {
            proc.pid: name
            for name in ("intake", "worker")
            for proc in family(encrypted.stack.procs[name].pid)
        }
        for i in range(bare_started):
            await plain.client.get_workflow_handle(f"bare-{run}-{i}").signal(BareWorkflow.finish)
        await sealed.signal(BareWorkflow.finish)
    out = {
        name: {"p50_ms": statistics.median(v), "p99_ms": pct(v, 99)} for name, v in taken.items()
    }
    for name in (*VARIANTS, f"bare_{ENCRYPTED}"):
        for p in ("p50", "p99"):
            out[name][f"{p}_ratio"] = out[name][f"{p}_ms"] / out["bare"][f"{p}_ms"]
    loads = key_loads.read(lookups)
    for name, who in ((ENCRYPTED, services), (f"bare_{ENCRYPTED}", {os.getpid(): "bench"})):
        found, waiting = key_loads.waits(loads, who, spans[name])
        rest = [ms for ms, waited in zip(taken[name], waiting, strict=True) if not waited]
        out[name] |= found | {"p99_ms_not_waiting": pct(rest or taken[name], 99)}
    return out


def say(phase: str) -> None:
    print(f"  ... {phase}", file=sys.stderr, flush=True)


def shifted(op: Callable[[int], Awaitable[None]], by: int) -> Callable[[int], Awaitable[None]]:
    """`op` numbering from `by`."""
    return lambda i: op(by + i)


def _note(api: httpx.AsyncClient, number: str) -> Callable[[int], Awaitable[None]]:
    async def note(i: int) -> None:
        r = await api.post(
            f"/api/v1/tickets/{number}/notes", json={"message": f"n{i}"}, headers=JANE
        )
        r.raise_for_status()

    return note


def _ping(handle: WorkflowHandle[Any, Any]) -> Callable[[int], Awaitable[None]]:
    async def ping(i: int) -> None:
        await handle.execute_update(BareWorkflow.ping, i)

    return ping


async def measure(
    stacks: dict[str, Stack], *, tickets: int, concurrency: int, rounds: int, lookups: Path
) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with AsyncExitStack() as exits:
        sides = [
            Side(
                name,
                stack,
                await stack.temporal_client(),
                await exits.enter_async_context(
                    httpx.AsyncClient(base_url=stack.intake_url, timeout=60, limits=limits)
                ),
            )
            for name, stack in stacks.items()
        ]
        say("the standard lifecycle, twice per variant")
        history = await histories(sides)
        say(f"{tickets} creates per variant, beside as many bare starts")
        rates = await creates(
            sides, sides[0].client, run=run, tickets=tickets, concurrency=concurrency
        )
        say(f"{rounds} rounds of commands")
        latency = await commands(
            sides, run=run, rounds=rounds, bare_started=tickets // 2 * 2, lookups=lookups
        )
    plain, sealed = latency[PLAIN], latency[ENCRYPTED]
    return {
        "history": history,
        "creates": rates,
        "commands": latency,
        "encrypted_over_plain": {
            "history_bytes": history[ENCRYPTED]["lifecycle_kb_proto"]
            / history[PLAIN]["lifecycle_kb_proto"],
            "command_p50_ratio": sealed["p50_ratio"] / plain["p50_ratio"],
            "command_p99_ratio": sealed["p99_ratio"] / plain["p99_ratio"],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=200, help="created per variant")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--commands", type=int, default=300, help="rounds: a command of each variant, bare updates"
    )
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes of each variant, as make run starts them (default: all cores)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "results.json")
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "bench" / "stack")
    args = parser.parse_args()
    var: Path = args.var.resolve()
    shutil.rmtree(var, ignore_errors=True)  # a fresh stack each run; logs stay for reading
    url = args.database_url or f"sqlite:///{var / 'ticketflow.db'}"
    plain = Stack.on_free_ports(
        var,
        url,
        temporal_db=str(var / "temporal.db"),
        worker_processes=args.worker_processes,
        extra_env=plain_env("bench"),
    )
    lookups = var / "key-lookups.txt"
    sealed = encrypted_twin(plain, key_loads.probe_env(lookups))
    key_loads.install(str(lookups))  # this process's: its client encrypts a bare update
    started = time.monotonic()
    try:
        with stopped_checked(sealed, plain):
            plain.start_temporal()
            plain.migrate_and_load(ROOT / "config" / "demo.yaml")
            plain.start_services()
            start_twin(sealed)
            results = asyncio.run(
                measure(
                    {PLAIN: plain, ENCRYPTED: sealed},
                    tickets=args.tickets,
                    concurrency=args.concurrency,
                    rounds=args.commands,
                    lookups=lookups,
                )
            )
    except Stopping as stop:
        sys.exit(f"bench.run: stopped by {stop}; the stack is stopped (logs in {var})")
    results["seconds"] = time.monotonic() - started
    report(args, url, results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": vars(args), **rounded(results)}, indent=2, default=str))


if __name__ == "__main__":
    main()
