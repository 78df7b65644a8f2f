"""Open tickets at scale: arm N open tickets, report the worker's memory and the arming time,
and show that tickets evicted from the worker's cache still escalate on time.

N tickets are started (as in bench.escalation, straight through `client.start_workflow`); all
but a sample have deadlines weeks away. The sample is started halfway, under business hours
that open at a minute boundary after the rest can be armed, so its tickets are all due at one
instant once every ticket is armed. The worker keeps only `--cache` workflows (default 500,
WORKER_MAX_CACHED_WORKFLOWS): the tickets started after the sample push it out of the cache, so
its escalations run on workflows replayed from their histories. Bare timers for the same
instant, on a worker without a cache (every task replayed), are the engine's own figure; they
fire together with the sample (a few hundred, so neither side's load weighs much).

`python -m bench.open_tickets [--tickets 10000] [--sample 200] [--cache 500]`
"""

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.escalation import (
    FIRST_RESPONSE,
    ROOT,
    BareTimers,
    Usage,
    burst_plan,
    ceil_minute,
    connect,
    far_plan,
    fmt,
    fresh_stack,
    number_of,
    outbox_queued,
    rss_mib,
    server_counts,
    server_metrics,
    start_tickets,
    summary,
    tickets_published,
    verdict,
    wait_escalated,
    wait_published,
    wait_until,
    worker_log_counts,
)
from services.devstack import Stack
from shared.db.engine import make_engine, make_sessionmaker

ARMING_LIMIT = timedelta(minutes=30)


def memory(stack: Stack) -> dict[str, float]:
    return {
        "worker_rss_mib": rss_mib(stack.procs["worker"].pid),
        "temporal_rss_mib": rss_mib(stack.procs["temporal"].pid),
    }


async def measure(stack: Stack, n: int, sample: int, timeout: float) -> dict[str, Any]:
    client = await connect(stack)
    sessions = make_sessionmaker(make_engine(stack.database_url))
    queue = stack.env["TEMPORAL_TASK_QUEUE"]
    usage = Usage(stack)
    far = far_plan()
    half = (n - sample) // 2
    before = memory(stack)
    usage.mark("arm")
    t0 = time.monotonic()
    limit = datetime.now(UTC) + ARMING_LIMIT
    # The first half at full speed tells how fast tickets are armed here ...
    await start_tickets(client, queue, range(half), far)
    first_half = await wait_published(sessions, half, limit)
    if first_half is None:
        raise TimeoutError(f"{half} tickets not armed within {ARMING_LIMIT}")
    rate = half / (first_half - t0)
    # ... and so when the sample's hours may open: after the rest is armed, with a margin.
    rest = n - half
    opens = ceil_minute(datetime.now(UTC) + timedelta(seconds=30 + 1.3 * rest / rate))
    due = opens + FIRST_RESPONSE
    sampled = range(half, half + sample)
    expected = {number_of(i) for i in sampled}
    bare = BareTimers(client, sample, cache=0)
    async with bare.worker:
        await bare.arm(due)
        await start_tickets(client, queue, sampled, burst_plan(opens))
        await start_tickets(client, queue, range(half + sample, n), far)
        started = time.monotonic() - t0
        armed_at = await wait_published(sessions, n, limit)
        usage.mark("armed")
        armed = memory(stack)
        slack = (opens - datetime.now(UTC)).total_seconds()
        await wait_until(due - timedelta(seconds=2))
        usage.mark("due")
        metrics = server_metrics(stack)
        queued_at_due = outbox_queued(sessions)
        seen = await wait_escalated(sessions, expected, due + timedelta(seconds=timeout))
        usage.mark("escalated")
        server = server_counts(metrics, server_metrics(stack))
        bare_late = await bare.lateness()
    after = memory(stack)
    figures = seen.figures(expected)
    return {
        "tickets": n,
        "sample": sample,
        "cache": int(stack.env["WORKER_MAX_CACHED_WORKFLOWS"]),
        "arming": {
            "started_s": round(started, 1),
            "armed_s": None if armed_at is None else round(armed_at - t0, 1),
            "tickets_per_s": None if armed_at is None else round(n / (armed_at - t0), 1),
            "published": tickets_published(sessions),
            "first_half_rate_per_s": round(rate, 1),
        },
        "memory": {"before_arming": before, "after_arming": armed, "after_escalation": after},
        "worker_rss_per_ticket_kib": round(
            1024 * (armed["worker_rss_mib"] - before["worker_rss_mib"]) / n, 1
        ),
        "opens_at": opens.isoformat(),
        "due_at": due.isoformat(),
        "slack_before_opening_s": round(slack, 1),
        "outbox_queued_at_due": queued_at_due,
        "server_during_burst": server,
        "worker_log": worker_log_counts(stack),
        "bare_timer_uncached": summary(bare_late),
        **figures,
        "cpu_s": {
            "arming": usage.between("arm", "armed"),
            "burst": usage.between("due", "escalated"),
        },
    }


def table(result: dict[str, Any]) -> str:
    arming, mem = result["arming"], result["memory"]
    once = result["exactly_once"]
    lines = [
        f"Open tickets: {result['tickets']} armed (worker cache {result['cache']} workflows)",
        f"  arming: all published in {arming['armed_s']} s ({arming['tickets_per_s']} tickets/s; "
        f"start calls done in {arming['started_s']} s)",
        "  RSS MiB          before  armed  after escalation",
    ]
    for key, label in (("worker_rss_mib", "worker"), ("temporal_rss_mib", "temporal server")):
        values = [
            mem[phase][key] for phase in ("before_arming", "after_arming", "after_escalation")
        ]
        lines.append(f"  {label:<16} {values[0]:6.0f} {values[1]:6.0f} {values[2]:6.0f}")
    lines += [
        f"  sample of {result['sample']} due at one instant, {result['slack_before_opening_s']} s "
        f"of slack; full histories fetched for replay during the burst: "
        f"{result['server_during_burst']['history_fetches']}",
        f"  {'lateness from the due time, s':<36} {'p50':>7} {'p99':>7} {'max':>7}",
    ]
    rows = (
        ("bare_timer_uncached", "bare timer (no worker cache)"),
        ("timeline_escalated", "ESCALATED on the timeline"),
        ("notice_stored", "escalation notice stored (outbox)"),
        ("notice_sent", "escalation notice sent (notify)"),
    )
    for key, label in rows:
        judged = verdict(result[key].get("p99_s")) if key != "bare_timer_uncached" else ""
        lines.append(f"  {label:<36} {fmt(result[key])}  {judged}")
    lines.append(
        f"  exactly once: escalated {once['escalated_once']}/{once['tickets']}, notice "
        f"{once['notice_once']}/{once['tickets']} (sent {once['notice_sent']}); escalations "
        f"outside the sample: {once['stray_escalations']}; outbox queued at due: "
        f"{result['outbox_queued_at_due']}"
    )
    cpu, worker = result["cpu_s"]["burst"], result["worker_log"]
    timeouts = ", ".join(
        f"{k} {v}" for k, v in result["server_during_burst"].items() if k != "history_fetches"
    )
    lines += [
        f"  burst {cpu['wall']} s: CPU s worker {cpu['worker']}, temporal {cpu['temporal']}, "
        f"notify {cpu['notify']}; machine CPU pressure {cpu['cpu_pressure_pct']}%",
        f"  server: {timeouts or 'no timeouts'}; worker: {worker['workflow_task_failures']} "
        f"workflow tasks failed ({worker['deadlock_detected']} false deadlocks)",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=200)
    parser.add_argument("--cache", type=int, default=500, help="WORKER_MAX_CACHED_WORKFLOWS")
    parser.add_argument(
        "--timeout", type=float, default=240, help="seconds after the due time to wait"
    )
    parser.add_argument(
        "--temporal", choices=["memory", "file"], default="memory", help="dev server storage"
    )
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "bench" / "open_tickets")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "open_tickets.json")
    args = parser.parse_args()
    if not 0 < args.sample < args.tickets:
        parser.error("--sample must be between 0 and --tickets")
    stack = fresh_stack(
        args.var.resolve(),
        args.temporal == "file",
        WORKER_MAX_CACHED_WORKFLOWS=str(args.cache),
    )
    started = time.monotonic()
    try:
        stack.start_temporal()
        stack.migrate_and_load(ROOT / "config" / "demo.yaml")
        stack.start_services()
        result = asyncio.run(measure(stack, args.tickets, args.sample, args.timeout))
    finally:
        stack.stop()
    result["run_wall_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(table(result))


if __name__ == "__main__":
    main()
