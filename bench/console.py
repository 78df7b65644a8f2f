"""The agent console on a real stack started for the run (SQLite unless told), each figure
beside the API call(s) it wraps, in rounds whose order rotates (the machine is noisy: read the
ratios):

1. **Queue page** (`queue`): the first page of each view (`GET /agent?view=…`, as Jane, with
   every view's count), p50/p99, with `--tickets` open tickets (and a tenth as many resolved
   and as many closed) written straight into the projection; beside it the list call the page
   makes for its rows, and all the API calls it makes (bench/console_queues.py).
2. **Ticket page** (`ticket`): `GET /agent/tickets/{n}` of a ticket with a `--thread`-message
   thread, beside `GET /api/v1/tickets/{n}` (the thread is in it) and all the API calls the
   page makes (bench/console_ticket.py).
3. **Live latency** (`live`): from a command's 200 (Jane changes a real ticket's priority
   through the API) to the change arriving on John's open `/agent/live` stream, p50/p95; and
   from the command sent, beside the command's own round trip.
4. **Idle connections** (`idle`): `--idle` live connections held open on the one web
   process: its CPU (and intake's, which serves one stream per connection) while nothing
   happens, over `--idle-seconds` (a heartbeat passes every 15 s), and the memory each
   connection adds (bench/console_live.py).

`python -m bench.console [--database sqlite|postgresql] [--tickets N] [--parts queue ticket
live idle] [--samples 30] [--thread 200] [--ticket-samples 50] [--idle 500] [--idle-seconds 30]`
"""

import argparse
import asyncio
import json
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

from bench.console_live import idle_connections, live_latency
from bench.console_queues import queue_pages, seed_projection
from bench.console_ticket import ticket_page
from bench.stack import ROOT, database, rounded, started_stack
from services.devstack import Stack
from services.web.console.queue_views import View

PARTS = ("queue", "ticket", "live", "idle")
TICKETS = {"sqlite": 10_000, "postgresql": 100_000}
PAGE_TARGET_MS = 100.0
LIVE_TARGET_MS = 1000.0
IDLE_CPU_TARGET = 5.0  # percent of one core


async def measure(stack: Stack, secret: str, args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {}
    if "queue" in args.parts:
        results["queue_pages"] = await queue_pages(stack, args.samples)
        print("  ... queue pages measured", flush=True)
    if "ticket" in args.parts:
        results["ticket_page"] = await ticket_page(stack, secret, args.thread, args.ticket_samples)
        print("  ... ticket page measured", flush=True)
    if "live" in args.parts:
        results["live_latency"] = await live_latency(stack, args.live_samples)
    if "idle" in args.parts:
        results["idle"] = await idle_connections(stack, args.idle, args.idle_seconds)
    return results


def run(args: argparse.Namespace) -> dict[str, Any]:
    var: Path = (args.var / f"console-{args.database}").resolve()
    shutil.rmtree(var, ignore_errors=True)  # a fresh stack each run; logs stay for reading
    var.mkdir(parents=True)
    secret = secrets.token_hex(32)  # signs the requester's links the long thread is made with
    started = time.monotonic()
    seeded: dict[str, Any] = {}
    with database(args.database, args.database_url, var) as url:

        def seed() -> None:
            began = time.monotonic()
            seeded.update(seed_projection(url, args.tickets))
            seeded["seconds"] = time.monotonic() - began
            print(f"  ... seeded {args.tickets:,} open tickets in {seeded['seconds']:.0f} s")

        with started_stack(
            var, url, name="console", prepare=seed, extra_env={"SECRET_KEY": secret}
        ) as running:
            results = asyncio.run(measure(running.stack, secret, args))
    return {
        "database": args.database,
        "seeded": seeded,
        **results,
        "survivors": sorted(f"{p.pid} {p.command[:80]}" for p in running.survivors),
        "elapsed_s": time.monotonic() - started,
    }


def f(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def p50_p99(figures: dict[str, float | None]) -> str:
    return f"{f(figures['p50'])} / {f(figures['p99'])}"


def times(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def report(results: dict[str, Any]) -> list[str]:
    lines = []
    seeded = results["seeded"]
    if pages := results.get("queue_pages"):
        counts = ", ".join(f"{seeded[s]:,} {s}" for s in ("open", "pending", "resolved", "closed"))
        lines += [
            f"Queue page, first page of each view ({results['database']}; seeded {counts} "
            f"in {seeded['seconds']:.0f} s), ms:",
            "| view | page p50 / p99 | list call p50 / p99 | ratio p50 "
            "| all its API calls p50 / p99 | ratio p50 |",
            "|---|---|---|---|---|---|",
        ]
        for name in [*(view.value for view in View), "all_views"]:
            row = pages[name]
            lines.append(
                f"| {name.replace('_', ' ')} | {p50_p99(row['page'])} "
                f"| {p50_p99(row['list_call'])} | {times(row['ratio_p50'])} "
                f"| {p50_p99(row['page_calls'])} | {times(row['ratio_p50_to_page_calls'])} |"
            )
        lines.append(f"(target: the page's p50 <= {PAGE_TARGET_MS:.0f} ms)")
    if page := results.get("ticket_page"):
        lines.append(
            f"Ticket page, {page['messages']} messages ({page['samples']} rounds; page "
            f"{page['page_bytes'] / 1024:.0f} KB, the API read {page['read_bytes'] / 1024:.0f} "
            f"KB), p50 / p99 ms: page {p50_p99(page['page'])}; the ticket read "
            f"{p50_p99(page['ticket_read'])}, ratio {times(page['ratio_p50'])}; all its API "
            f"calls {p50_p99(page['page_calls'])}, ratio {times(page['ratio_p50_to_page_calls'])}"
        )
        alone = ", ".join(f"{name} {f(p50)}" for name, p50 in page["calls_alone_p50"].items())
        lines.append(f"  its API calls one by one, p50 ms: {alone}")
    if live := results.get("live_latency"):
        taken, sent, command = live["ms"], live["from_sent_ms"], live["command_ms"]
        lines.append(
            f"Live latency, command 200 -> another agent's /agent/live: p50 {f(taken['p50'])} "
            f"ms, p95 {f(taken['p95'])} ms, max {f(taken['p100'])} ms (target p95 <= "
            f"{LIVE_TARGET_MS:.0f} ms); from the command sent: p50 {f(sent['p50'])}, p95 "
            f"{f(sent['p95'])} ms, beside the command's 200 p50 {f(command['p50'])}, p95 "
            f"{f(command['p95'])} ms"
        )
    if idle := results.get("idle"):
        cpu, per = idle["cpu_percent_of_a_core"], idle["kib_per_connection"]
        before, after = idle["rss_mib_before"], idle["rss_mib_after"]
        lines.append(
            f"{idle['connections']} idle live connections (opened in {idle['opened_in_s']:.1f} "
            f"s), over {idle['idle_seconds']:.0f} s: web CPU {cpu['web']:.2f} % of a core, "
            f"intake {cpu['intake']:.2f} % (target < {IDLE_CPU_TARGET:.0f} %); memory per "
            f"connection: web {per['web']:.0f} KiB, intake {per['intake']:.0f} KiB (RSS web "
            f"{before['web']:.0f} -> {after['web']:.0f} MiB, intake {before['intake']:.0f} -> "
            f"{after['intake']:.0f} MiB)"
        )
    survivors = results["survivors"]
    lines.append(
        (
            "stack: SURVIVED the stop (killed): " + ", ".join(survivors)
            if survivors
            else "stack: all stopped"
        )
        + f"; {results['elapsed_s']:.0f} s in all"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL to use (default: a throw-away database at 127.0.0.1:5432, as tests)",
    )
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument(
        "--tickets",
        type=int,
        default=None,
        help="open tickets seeded (default: 10,000 on SQLite, 100,000 on PostgreSQL)",
    )
    parser.add_argument("--samples", type=int, default=30, help="queue page rounds per view")
    parser.add_argument("--thread", type=int, default=200, help="the ticket page's messages")
    parser.add_argument("--ticket-samples", type=int, default=50, help="ticket page rounds")
    parser.add_argument("--live-samples", type=int, default=40)
    parser.add_argument("--idle", type=int, default=500, help="idle live connections")
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--out", type=Path, default=None, help="var/bench/console-DATABASE.json")
    args = parser.parse_args()
    if args.tickets is None:
        args.tickets = TICKETS[args.database]
    out: Path = args.out or ROOT / "var" / "bench" / f"console-{args.database}.json"
    results = run(args)
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    out.write_text(json.dumps({"args": saved, **rounded(results)}, indent=2) + "\n")
    print("\n".join(report(results)), flush=True)


if __name__ == "__main__":
    main()
