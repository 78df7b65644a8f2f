"""Load on the HTTP API: throughput and p50/p99 per kind of request at 1, 8, 32 and 64
concurrent clients, on SQLite and on PostgreSQL, beside each read's idle latency; and the
agent command's latency beside a bare Temporal update, taken in the same run as bench.run
takes it (interleaved rounds, the stack idle).

Each client (a user: one connection, no think time) loops for `--seconds` over a fixed mix
(per 12 requests: 3 ticket reads, 2 lists, 2 timelines, 1 agent read, 1 change-feed page,
2 internal notes, 1 create); reads go to seeded tickets that take no notes, so that a read
costs the same at every level. Latencies are of 2xx answers; other answers, timeouts and
transport errors are counted apart. Checks: at 32 clients each read's p99 stays under 10
times its idle p50, with none failed; the command ratio must not get worse than the README's.

The load generator is this one Python process, on the same cores as the stack: the CPU it
takes is printed beside each stack process's and the whole machine's at each level. Every
request is bounded (30 s), so is every level (its seconds plus that), and every process of
each stack is checked gone after its stop.

`python -m bench.load [--databases sqlite postgresql] [--seconds 10] [--levels 1 8 32 64]`
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.bare import BareWorkflow
from bench.run import JANE, interleaved, latencies, published
from bench.stack import TICKS, cpu_seconds, database, percentile, rounded, started_stack
from services.devstack import Stack
from tests.processes import family

ROOT = Path(__file__).resolve().parents[1]
REQUEST_TIMEOUT = 30.0
READS = ("ticket", "list", "timeline", "agent", "events")
KINDS = ("create", "note", *READS)
# Per 12 requests of a client; each client goes through its own shuffle of this cycle.
MIX = {"ticket": 3, "list": 2, "timeline": 2, "agent": 1, "events": 1, "note": 2, "create": 1}
CHECK_LEVEL = 32
CHECK_FACTOR = 10.0

Op = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


@dataclass
class Tally:
    """One kind of request at one level."""

    ok_ms: list[float] = field(default_factory=list)  # latencies of 2xx answers
    statuses: Counter[int] = field(default_factory=Counter)  # non-2xx answers
    timeouts: int = 0
    transport: Counter[str] = field(default_factory=Counter)  # no answer: by exception

    @property
    def failed(self) -> int:
        return sum(self.statuses.values()) + self.timeouts + sum(self.transport.values())

    def figures(self, seconds: float) -> dict[str, Any]:
        done = len(self.ok_ms)
        return {
            "ok": done,
            "per_s": done / seconds,
            "p50_ms": percentile(self.ok_ms, 0.5) if done else None,
            "p99_ms": percentile(self.ok_ms, 0.99) if done else None,
            "errors": {str(k): v for k, v in sorted(self.statuses.items())},
            "timeouts": self.timeouts,
            "transport_errors": dict(self.transport),
        }


@dataclass
class Tickets:
    """Seeded tickets: `reads` only read, `commands` take the notes."""

    run: str
    reads: list[str]
    commands: list[str]
    latency: str  # the ticket of the interleaved command rounds


def ops(tickets: Tickets) -> dict[str, Op]:
    reads, commands = tickets.reads, tickets.commands

    async def create(api: httpx.AsyncClient, i: int) -> httpx.Response:
        return await api.post(
            "/api/v1/tickets",
            json={
                "requester": {"name": "Load", "email": f"load{i}@example.com"},
                "subject": f"load {tickets.run} {i}",
                "message": "A ticket opened by the load benchmark.",
                "help_topic": "online-banking",
            },
        )

    async def note(api: httpx.AsyncClient, i: int) -> httpx.Response:
        number = commands[i % len(commands)]
        return await api.post(
            f"/api/v1/tickets/{number}/notes", json={"message": f"load {i}"}, headers=JANE
        )

    async def ticket(api: httpx.AsyncClient, i: int) -> httpx.Response:
        return await api.get(f"/api/v1/tickets/{reads[i % len(reads)]}", headers=JANE)

    async def listing(api: httpx.AsyncClient, i: int) -> httpx.Response:
        return await api.get("/api/v1/tickets", headers=JANE)

    async def timeline(api: httpx.AsyncClient, i: int) -> httpx.Response:
        return await api.get(f"/api/v1/tickets/{reads[i % len(reads)]}/timeline", headers=JANE)

    async def agent(api: httpx.AsyncClient, i: int) -> httpx.Response:
        return await api.get("/api/v1/admin/agents/john", headers=JANE)

    async def events(api: httpx.AsyncClient, i: int) -> httpx.Response:
        return await api.get("/api/v1/events", params={"limit": 50}, headers=JANE)

    return {
        "create": create,
        "note": note,
        "ticket": ticket,
        "list": listing,
        "timeline": timeline,
        "agent": agent,
        "events": events,
    }


async def attempt(api: httpx.AsyncClient, op: Op, i: int, tally: Tally) -> bool:
    """One request, bounded as a whole (connection, queueing, answer); True if 2xx."""
    start = time.perf_counter()
    try:
        async with asyncio.timeout(REQUEST_TIMEOUT):
            response = await op(api, i)
    except (TimeoutError, httpx.TimeoutException):
        tally.timeouts += 1
        return False
    except httpx.HTTPError as err:
        tally.transport[type(err).__name__] += 1
        return False
    if response.is_success:
        tally.ok_ms.append((time.perf_counter() - start) * 1000)
        return True
    tally.statuses[response.status_code] += 1
    return False


def client(url: str, connections: int) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=url, timeout=REQUEST_TIMEOUT, limits=limits)


# Processes' CPU from /proc: what the load generator takes beside the stack.


def machine_seconds() -> tuple[float, float]:
    """CPU seconds since boot the whole machine spent busy (every process, PostgreSQL's and
    other users' too), and that the hypervisor took (steal), from /proc/stat."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks[:8]
    return (user + nice + system + irq + softirq) / TICKS, steal / TICKS


def stack_cpu(stack: Stack) -> dict[str, float]:
    usage = {name: cpu_seconds(family(proc.pid)) for name, proc in stack.procs.items()}
    usage["bench"] = time.process_time()
    usage["machine"], usage["steal"] = machine_seconds()
    return usage


def cpu_share(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, float]:
    """Percent of one core each process (with its children) took over `wall` seconds."""
    return {name: 100 * (after[name] - before.get(name, 0.0)) / wall for name in after}


# The phases of one database's run.


async def seed(stack: Stack, count: int) -> Tickets:
    run = uuid.uuid4().hex[:6]
    numbers: list[str] = []
    async with client(stack.intake_url, 8) as api:
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> None:
            body = {
                "requester": {"name": "Seed", "email": f"seed{i}@example.com"},
                "subject": f"seed {run} {i}",
                "message": "A seeded ticket.",
                "help_topic": "online-banking",
            }
            async with sem, asyncio.timeout(REQUEST_TIMEOUT):
                r = await api.post("/api/v1/tickets", json=body)
                r.raise_for_status()
                numbers.append(r.json()["number"])

        await asyncio.gather(*(one(i) for i in range(count + 1)))
    await published(stack, f"seed {run} ", count + 1, timeout=120)
    half = count // 2
    return Tickets(run, reads=numbers[:half], commands=numbers[half:-1], latency=numbers[-1])


async def idle_reads(stack: Stack, table: dict[str, Op], n: int) -> dict[str, dict[str, float]]:
    """Each read alone, one at a time: its p50 and p99 on an otherwise idle stack."""
    out = {}
    async with client(stack.intake_url, 1) as api:
        for kind in READS:
            op = table[kind]

            async def read(i: int, op: Op = op) -> None:
                async with asyncio.timeout(REQUEST_TIMEOUT):
                    (await op(api, i)).raise_for_status()

            await latencies(5, read)
            ms = await latencies(n, read)
            out[kind] = {"p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99)}
    return out


async def command_ratio(stack: Stack, tickets: Tickets, rounds: int) -> dict[str, float]:
    """An internal note through the API beside a bare update, in interleaved rounds, as
    bench.run measures it."""
    temporal = await stack.temporal_client()
    queue = f"bare-{tickets.run}"
    handle = await temporal.start_workflow(
        BareWorkflow.run, id=f"bare-{tickets.run}", task_queue=queue
    )
    # Unsandboxed, as ticketflow's worker runs its workflow (services/workflows/worker.py).
    bare_worker = Worker(
        temporal,
        task_queue=queue,
        workflows=[BareWorkflow],
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    async with client(stack.intake_url, 1) as api, bare_worker:

        async def note(i: int) -> None:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                r = await api.post(
                    f"/api/v1/tickets/{tickets.latency}/notes",
                    json={"message": f"n{i}"},
                    headers=JANE,
                )
                r.raise_for_status()

        async def ping(i: int) -> None:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                await handle.execute_update(BareWorkflow.ping, i)

        await latencies(10, ping)
        await latencies(10, note)
        api_ms, bare_ms = await interleaved(rounds, note, ping)
        await handle.signal(BareWorkflow.finish)
    api_p50, bare_p50 = percentile(api_ms, 0.5), percentile(bare_ms, 0.5)
    return {
        "api_command_p50_ms": api_p50,
        "api_command_p99_ms": percentile(api_ms, 0.99),
        "bare_update_p50_ms": bare_p50,
        "bare_update_p99_ms": percentile(bare_ms, 0.99),
        "command_p50_ratio": api_p50 / bare_p50,
    }


async def level(
    stack: Stack, table: dict[str, Op], clients: int, seconds: float, first: int
) -> dict[str, Any]:
    """`clients` clients, each looping over its shuffle of the mix until `seconds` are up;
    requests in flight then finish or time out (REQUEST_TIMEOUT), so the level is bounded."""
    cycle = [kind for kind, weight in MIX.items() for _ in range(weight)]
    tallies = {kind: Tally() for kind in KINDS}
    counter = iter(range(first, first + 10**9))
    async with AsyncExitStack() as opened:
        # A client (one connection) per simulated user: one shared pool of many connections
        # costs the load generator more CPU than the users do.
        apis = [
            await opened.enter_async_context(client(stack.intake_url, 1)) for _ in range(clients)
        ]
        deadline = time.monotonic() + seconds

        async def loop(c: int) -> None:
            mine = cycle[:]
            random.Random(c).shuffle(mine)
            k = 0
            while time.monotonic() < deadline:
                kind = mine[k % len(mine)]
                k += 1
                await attempt(apis[c], table[kind], next(counter), tallies[kind])

        cpu_before = stack_cpu(stack)
        start = time.monotonic()
        tasks = [asyncio.create_task(loop(c)) for c in range(clients)]
        # Each request is bounded, so this limit is only a backstop: clients still busy then
        # are cancelled and counted.
        _, pending = await asyncio.wait(tasks, timeout=seconds + REQUEST_TIMEOUT + 5)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        wall = time.monotonic() - start
        cpu = cpu_share(cpu_before, stack_cpu(stack), wall)
    kinds = {kind: tally.figures(wall) for kind, tally in tallies.items()}
    answered = [ms for tally in tallies.values() for ms in tally.ok_ms]
    return {
        "clients": clients,
        "wall_s": wall,
        "kinds": kinds,
        "all": {
            "ok": len(answered),
            "per_s": len(answered) / wall,
            "p50_ms": percentile(answered, 0.5) if answered else None,
            "p99_ms": percentile(answered, 0.99) if answered else None,
            "failed": sum(tally.failed for tally in tallies.values()),
            "clients_cancelled": len(pending),
        },
        "cpu_percent": cpu,
        "next": next(counter),
    }


async def settle(stack: Stack, run: str, created: int, timeout: float) -> float | None:
    """Seconds until the worker has opened every ticket created so far (None: not within
    `timeout`), so that one level's backlog does not weigh on the next."""
    start = time.monotonic()
    try:
        await published(stack, f"load {run} ", created, timeout=timeout)
    except TimeoutError:
        return None
    return time.monotonic() - start


async def measure(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    tickets = await seed(stack, args.tickets)
    table = ops(tickets)
    idle = await idle_reads(stack, table, args.idle)
    ratio = await command_ratio(stack, tickets, args.commands)
    levels = []
    first, created = 0, 0
    for clients in args.levels:
        figures = await level(stack, table, clients, args.seconds, first)
        first = figures.pop("next")
        created += figures["kinds"]["create"]["ok"]
        figures["settle_s"] = await settle(stack, tickets.run, created, args.settle)
        figures["dead"] = stack.dead()
        levels.append(figures)
        print(f"  ... {clients} clients: {figures['all']['per_s']:.1f} req/s", flush=True)
        if figures["dead"]:
            break
    return {"idle": idle, **ratio, "levels": levels, "checks": checks(idle, levels)}


def checks(idle: dict[str, dict[str, float]], levels: list[dict[str, Any]]) -> dict[str, Any]:
    """At CHECK_LEVEL clients: each read's p99 over its idle p50, ok under CHECK_FACTOR and
    with no failed request."""
    at = next((lv for lv in levels if lv["clients"] == CHECK_LEVEL), None)
    if at is None:
        return {}
    out = {}
    for kind in READS:
        figures = at["kinds"][kind]
        failed = sum(figures["errors"].values()) + figures["timeouts"]
        failed += sum(figures["transport_errors"].values())
        p99 = figures["p99_ms"]
        factor = None if p99 is None else p99 / idle[kind]["p50_ms"]
        ok = factor is not None and factor < CHECK_FACTOR and failed == 0
        out[kind] = {"p99_over_idle_p50": factor, "failed": failed, "ok": ok}
    return out


# The stack.


def run_one(name: str, args: argparse.Namespace) -> dict[str, Any]:
    var: Path = (args.var / name).resolve()
    shutil.rmtree(var, ignore_errors=True)  # a fresh stack each run; logs stay for reading
    var.mkdir(parents=True)
    started = time.monotonic()
    with (
        database(name, args.database_url, var) as url,
        started_stack(
            var, url, name=f"load-{name}", worker_processes=args.worker_processes
        ) as running,
    ):
        results = asyncio.run(measure(running.stack, args))
    results["database"] = name
    results["stack_processes"] = len(running.processes)
    results["survivors"] = sorted(f"{p.pid} {p.command[:80]}" for p in running.survivors)
    results["elapsed_s"] = time.monotonic() - started
    return results


# Printing.


def ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def table(results: dict[str, Any], args: argparse.Namespace) -> list[str]:
    lines = [
        f"database: {results['database']}, {args.tickets} seeded tickets, "
        f"{args.worker_processes} worker processes, {args.seconds:g} s per level; "
        f"load from this one process, on the same {os.cpu_count()} cores as the stack"
    ]
    idle = results["idle"]
    lines.append(
        f"  idle p50 ({args.idle} sequential each), ms: "
        + "  ".join(f"{kind} {ms(idle[kind]['p50_ms'])}" for kind in READS)
    )
    lines.append(
        f"  command ({args.commands} interleaved rounds): API note p50 "
        f"{ms(results['api_command_p50_ms'])} ms (p99 {ms(results['api_command_p99_ms'])}), "
        f"bare update p50 {ms(results['bare_update_p50_ms'])} ms "
        f"(p99 {ms(results['bare_update_p99_ms'])}); ratio {results['command_p50_ratio']:.2f}"
    )
    levels = results["levels"]
    header = "  req/s p50/p99 ms".ljust(20) + "".join(
        f"{lv['clients']} client{'s' if lv['clients'] > 1 else ''}".ljust(24) for lv in levels
    )
    lines.append(header.rstrip())
    for kind in (*KINDS, "all"):
        row = f"  {kind}".ljust(20)
        for lv in levels:
            f = lv["all"] if kind == "all" else lv["kinds"][kind]
            row += f"{f['per_s']:6.1f} {ms(f['p50_ms'])}/{ms(f['p99_ms'])}".ljust(24)
        lines.append(row.rstrip())
    for lv in levels:
        failures = []
        for kind in KINDS:
            f = lv["kinds"][kind]
            parts = [f"{code}x{n}" for code, n in f["errors"].items()]
            parts += [f"timeout x{f['timeouts']}"] if f["timeouts"] else []
            parts += [f"{name}x{n}" for name, n in f["transport_errors"].items()]
            if parts:
                failures.append(f"{kind} {' '.join(parts)}")
        cpu = lv["cpu_percent"]
        procs = sorted((n for n in cpu if n not in ("machine", "steal")), key=lambda n: -cpu[n])
        shares = ", ".join(f"{name} {cpu[name]:.0f}" for name in procs)
        shares += f"; whole machine {cpu['machine']:.0f} of {100 * (os.cpu_count() or 1)}"
        shares += f" (steal {cpu['steal']:.0f})" if cpu["steal"] >= 5 else ""
        settled = "not within the limit" if lv["settle_s"] is None else f"{lv['settle_s']:.1f} s"
        lines.append(
            f"  {lv['clients']:>2} clients: wall {lv['wall_s']:.1f} s; "
            f"failed: {'; '.join(failures) or 'none'}; creates opened after: {settled}"
        )
        lines.append(f"      CPU, % of one core: {shares}")
        if lv["all"]["clients_cancelled"]:
            lines.append(f"      clients cancelled at the limit: {lv['all']['clients_cancelled']}")
        if lv["dead"]:
            lines.append(f"      STOPPED during the level: {', '.join(lv['dead'])}")
    if results["checks"]:
        verdicts = []
        for kind, check in results["checks"].items():
            factor = check["p99_over_idle_p50"]
            verdict = "ok" if check["ok"] else "OVER"
            failed = f", {check['failed']} failed" if check["failed"] else ""
            shown = "-" if factor is None else f"{factor:.1f}x"
            verdicts.append(f"{kind} {shown} {verdict}{failed}")
        lines.append(
            f"  check at {CHECK_LEVEL} clients, read p99 < {CHECK_FACTOR:g}x idle p50: "
            + ", ".join(verdicts)
        )
    survivors = results["survivors"]
    lines.append(
        f"  stack: {results['stack_processes']} processes, "
        + (f"SURVIVED the stop (killed): {survivors}" if survivors else "all stopped")
        + f"; {results['elapsed_s']:.0f} s in all"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--databases", nargs="+", choices=("sqlite", "postgresql"), default=["sqlite", "postgresql"]
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per level")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--tickets", type=int, default=40, help="seeded: half read, half noted")
    parser.add_argument("--idle", type=int, default=50, help="sequential requests per read")
    parser.add_argument("--commands", type=int, default=100, help="interleaved rounds")
    parser.add_argument(
        "--settle", type=float, default=20.0, help="at most this long for the worker after a level"
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL to use (default: a throw-away database at 127.0.0.1:5432, as tests)",
    )
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes, as make run starts them (default: all cores)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "load.json")
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "bench" / "load-stack")
    args = parser.parse_args()
    started = time.monotonic()
    everything: dict[str, Any] = {}
    failed = False
    for name in args.databases:
        print(f"{name}: starting a stack", flush=True)
        try:
            results = rounded(run_one(name, args))
        except Exception as err:  # the next database still runs; the exit code tells
            failed = True
            everything[name] = {"error": f"{type(err).__name__}: {err}"}
            print(f"{name}: FAILED: {type(err).__name__}: {err}", file=sys.stderr, flush=True)
            continue
        everything[name] = results
        print("\n".join(table(results, args)), flush=True)
    summary = {
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "elapsed_s": round(time.monotonic() - started, 1),
        **everything,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
