"""Escalation burst: N tickets all due at the same instant, beside N bare Temporal timers.

The burst is made the realistic way: business hours (UTC) that open at a minute boundary T,
tickets created before T under a plan whose first response is due after 1 minute of business
time, so every ticket is due at exactly T + 1 min. Beside them, in the same run and on the same
server, N bare timers (`BareTimerWorkflow`, worked by this process) all armed for one instant,
in a phase of their own just before the tickets: on two cores, firing 2N at once would put each
side's load into the other's figures. Lateness is measured from the due time to
- the ESCALATED event's `at` on the timeline (table ticket_timeline),
- the escalation notification's `created_at` (stored in the outbox by the publish activity),
- its `sent_at` (delivered over SMTP by notify),
each as p50/p99/max, with counts proving each ticket escalated and was notified exactly once.

`python -m bench.escalation [--tickets 1000 5000]`: a fresh stack for each size, its Temporal
dev server in memory by default. In a trial with `--temporal file` (SQLite on this shared disk)
the server's own writes timed out under the burst, workflow tasks missed their sticky queue's
10 s schedule-to-start and even 200 bare timers fired ~30 s late: that measures the disk.
"""

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from bench.bare import BareTimerWorkflow
from services.devstack import Stack
from services.workflows.ticket_workflow import TicketWorkflow
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import NotificationRow, SlaClockFactRow, TicketRow, TimelineRow
from shared.domain.business_time import OpeningInterval, Schedule
from shared.domain.enums import (
    DeliveryStatus,
    EventKind,
    NotificationKind,
    Priority,
    SlaClock,
    Source,
)
from shared.domain.ids import ticket_workflow_id
from shared.domain.models import MessageRef, Person, SlaPlanSnapshot, TicketInput

ROOT = Path(__file__).resolve().parents[1]
GOAL_S, TARGET_S = 1.0, 5.0  # p99 lateness: the goal and its limit
OWNER = "john"  # the assignee: an agent of config/demo.yaml, so the escalation has a recipient
OWNER_EMAIL = "john@example.com"
DEPARTMENT = TEAM = HELP_TOPIC = "online-banking"
FIRST_RESPONSE = timedelta(minutes=1)  # business time
START_CONCURRENCY = 32
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The server publishes its counters about once a second: wait this long before the last scrape.
METRICS_FLUSH_S = 2.0


# --- figures -------------------------------------------------------------------------------


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_s": round(statistics.median(values), 3),
        "p99_s": round(pct(values, 99), 3),
        "max_s": round(max(values), 3),
    }


def as_utc(at: datetime) -> datetime:
    """SQLite hands timestamps back naive; every one ticketflow stores is UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def ceil_minute(at: datetime) -> datetime:
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + timedelta(minutes=1)


# --- processes ------------------------------------------------------------------------------


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (a service may run helper processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += children.get(current, [])
    return out


def rss_mib(pid: int) -> float:
    """Resident memory of `pid` and its descendants (VmRSS), in MiB."""
    total_kib = 0
    for each in process_tree(pid):
        try:
            for line in Path(f"/proc/{each}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
        except OSError:
            continue
    return round(total_kib / 1024, 1)


def cpu_s(pid: int) -> float:
    """CPU time (user + system) used so far by `pid` and its descendants, in seconds."""
    ticks = 0
    for each in process_tree(pid):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLK_TCK


@dataclass
class Usage:
    """CPU seconds of the stack's processes (and this one) between two marks."""

    stack: Stack
    marks: dict[str, dict[str, float]] = field(default_factory=dict)

    def mark(self, name: str) -> None:
        pids = {n: p.pid for n, p in self.stack.procs.items()}
        self.marks[name] = {n: cpu_s(pid) for n, pid in pids.items()}
        own = os.times()  # this process alone: the stack's processes are its children
        self.marks[name]["bench"] = own.user + own.system
        self.marks[name]["wall"] = time.monotonic()
        self.marks[name]["cpu_stall"] = cpu_stall_s()

    def between(self, start: str, end: str) -> dict[str, float]:
        """CPU seconds per process, the wall time, and the share of it in which some runnable
        task on the machine waited for a CPU (PSI: other work on a shared machine shows here)."""
        a, b = self.marks[start], self.marks[end]
        out = {n: round(b[n] - a[n], 1) for n in b if n in a and n != "cpu_stall"}
        wall = b["wall"] - a["wall"]
        out["cpu_pressure_pct"] = round(100 * (b["cpu_stall"] - a["cpu_stall"]) / wall, 1)
        return out


def cpu_stall_s() -> float:
    """Seconds in which some task waited for a CPU, since boot (/proc/pressure/cpu)."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except OSError:
        return 0.0
    return int(some.rsplit("total=", 1)[1]) / 1e6


# --- tickets and timers ---------------------------------------------------------------------


def opening_schedule(opens: datetime) -> Schedule:
    """Open every day from `opens`'s minute (UTC) for an hour, or to midnight if sooner."""
    start = opens.astimezone(UTC)
    end = start + timedelta(hours=1)
    closing = clock_time(0, 0) if end.date() != start.date() else end.time()
    interval = OpeningInterval(start=start.time(), end=closing)
    return Schedule(timezone="UTC", hours={day: [interval] for day in range(7)})


def burst_plan(opens: datetime) -> SlaPlanSnapshot:
    """First response due one business minute after `opens`; resolution far past the run."""
    return SlaPlanSnapshot(
        handle="bench-burst",
        name="bench burst",
        first_response=FIRST_RESPONSE,
        resolution=timedelta(minutes=50),
        auto_close=timedelta(days=3),
        schedule=opening_schedule(opens),
    )


def far_plan() -> SlaPlanSnapshot:
    """24/7 targets weeks away: tickets that stay open and armed for the whole run."""
    return SlaPlanSnapshot(
        handle="bench-far",
        name="bench far",
        first_response=timedelta(days=14),
        resolution=timedelta(days=28),
        auto_close=timedelta(days=3),
    )


def number_of(i: int) -> str:
    return str(100_000 + i)  # 6 digits and more: a fresh stack per run, so no clash


def ticket(i: int, plan: SlaPlanSnapshot) -> TicketInput:
    number = number_of(i)
    return TicketInput(
        number=number,
        subject=f"bench {i}",
        message=MessageRef(id=f"bench-{number}", size=12),
        requester=Person(name="Bench", email="bench@example.com"),
        help_topic=HELP_TOPIC,
        department=DEPARTMENT,
        team=TEAM,
        assignee=OWNER,
        priority=Priority.NORMAL,
        source=Source.API,
        sla_plan=plan,
        idempotency_key=uuid.uuid4().hex,
        # As the intake does: the ticket opens when the create is accepted.
        opened_at=datetime.now(UTC),
    )


async def start_tickets(
    client: Client, queue: str, indexes: Iterable[int], plan: SlaPlanSnapshot
) -> None:
    sem = asyncio.Semaphore(START_CONCURRENCY)

    async def start(i: int) -> None:
        async with sem:
            data = ticket(i, plan)
            await client.start_workflow(
                TicketWorkflow.run, data, id=ticket_workflow_id(data.number), task_queue=queue
            )

    await asyncio.gather(*(start(i) for i in indexes))


class BareTimers:
    """N bare timers for one instant, on their own task queue, worked by this process."""

    def __init__(self, client: Client, n: int, cache: int) -> None:
        self.client, self.n = client, n
        self.queue = f"bare-timers-{uuid.uuid4().hex[:6]}"
        self.worker = Worker(
            client,
            task_queue=self.queue,
            workflows=[BareTimerWorkflow],
            max_cached_workflows=cache,
            workflow_runner=UnsandboxedWorkflowRunner(),  # as ticketflow's worker runs
        )
        self.handles: list[WorkflowHandle[BareTimerWorkflow, float]] = []

    async def arm(self, due: datetime) -> None:
        sem = asyncio.Semaphore(START_CONCURRENCY)

        async def start(i: int) -> WorkflowHandle[BareTimerWorkflow, float]:
            async with sem:
                return await self.client.start_workflow(
                    BareTimerWorkflow.run, due, id=f"{self.queue}-{i}", task_queue=self.queue
                )

        self.handles = list(await asyncio.gather(*(start(i) for i in range(self.n))))

    async def lateness(self) -> list[float]:
        # Each result() is a long poll: bound them, the server limits concurrent pollers.
        sem = asyncio.Semaphore(50)

        async def result(handle: WorkflowHandle[BareTimerWorkflow, float]) -> float:
            async with sem:
                return await handle.result()

        return list(await asyncio.gather(*(result(h) for h in self.handles)))


# --- what the database shows ----------------------------------------------------------------


@dataclass
class Observed:
    """Escalations of the first-response clock of `expected` tickets, as stored."""

    due: dict[str, datetime]  # ticket -> its first-response due time (sla_clock_facts)
    events: dict[str, list[datetime]]  # ticket -> ESCALATED events' `at` (first response)
    notices: dict[tuple[str, str], list[tuple[datetime, datetime | None]]]  # created, sent
    breached: dict[str, datetime]
    stray_events: int  # escalations of tickets outside `expected` (or of another clock)

    def complete(self, expected: set[str]) -> bool:
        sent = {t for (t, _), rows in self.notices.items() if any(s for _, s in rows)}
        return expected <= self.events.keys() and expected <= sent

    def figures(self, expected: set[str]) -> dict[str, Any]:
        per_ticket = Counter(len(self.events.get(t, [])) for t in expected)
        owner = {t: rows for (t, who), rows in self.notices.items() if who == OWNER_EMAIL}
        per_notice = Counter(len(owner.get(t, [])) for t in expected)
        other = sum(len(rows) for (t, who), rows in self.notices.items() if who != OWNER_EMAIL)
        late_event, late_created, late_sent, late_breach = [], [], [], []
        for t in expected:
            due = self.due.get(t)
            if due is None:
                continue
            late_event += [(at - due).total_seconds() for at in self.events.get(t, [])]
            if t in self.breached:
                late_breach.append((self.breached[t] - due).total_seconds())
            for created, sent in owner.get(t, []):
                late_created.append((created - due).total_seconds())
                if sent is not None:
                    late_sent.append((sent - due).total_seconds())
        return {
            "timeline_escalated": summary(late_event),
            "facts_breached_at": summary(late_breach),
            "notice_stored": summary(late_created),
            "notice_sent": summary(late_sent),
            "exactly_once": {
                "tickets": len(expected),
                "escalated_once": per_ticket[1],
                "escalated_missing": per_ticket[0],
                "escalated_more_than_once": sum(v for k, v in per_ticket.items() if k > 1),
                "notice_once": per_notice[1],
                "notice_missing": per_notice[0],
                "notice_more_than_once": sum(v for k, v in per_notice.items() if k > 1),
                "notice_sent": len(late_sent),
                "notices_to_others": other,
                "stray_escalations": self.stray_events,
            },
        }


def observe(sessions: sessionmaker[Session], expected: set[str]) -> Observed:
    clock = SlaClock.FIRST_RESPONSE.value
    with sessions() as session:
        facts = session.execute(
            select(
                SlaClockFactRow.ticket, SlaClockFactRow.due_at, SlaClockFactRow.breached_at
            ).where(SlaClockFactRow.clock == clock, SlaClockFactRow.cycle == 1)
        ).all()
        events = session.execute(
            select(TimelineRow.ticket, TimelineRow.at, TimelineRow.event).where(
                TimelineRow.kind == EventKind.ESCALATED.value
            )
        ).all()
        notices = session.execute(
            select(
                NotificationRow.ticket,
                NotificationRow.recipient_email,
                NotificationRow.created_at,
                NotificationRow.sent_at,
                NotificationRow.status,
            ).where(NotificationRow.kind == NotificationKind.ESCALATION.value)
        ).all()
    due = {t: as_utc(d) for t, d, _ in facts if t in expected}
    breached = {t: as_utc(b) for t, _, b in facts if t in expected and b is not None}
    by_ticket: dict[str, list[datetime]] = {}
    stray = 0
    for t, at, event in events:
        if t in expected and event.get("detail", {}).get("clock") == clock:
            by_ticket.setdefault(t, []).append(as_utc(at))
        else:
            stray += 1
    by_notice: dict[tuple[str, str], list[tuple[datetime, datetime | None]]] = {}
    for t, who, created, sent, status in notices:
        if t not in expected:
            continue
        delivered = as_utc(sent) if sent is not None and status == "sent" else None
        by_notice.setdefault((t, who), []).append((as_utc(created), delivered))
    return Observed(due, by_ticket, by_notice, breached, stray)


def count(sessions: sessionmaker[Session], query: Any) -> int:
    with sessions() as session:
        return int(session.scalar(query) or 0)


def tickets_published(sessions: sessionmaker[Session]) -> int:
    return count(sessions, select(func.count()).select_from(TicketRow))


def outbox_queued(sessions: sessionmaker[Session]) -> int:
    queued = NotificationRow.status == DeliveryStatus.QUEUED.value
    return count(sessions, select(func.count()).select_from(NotificationRow).where(queued))


async def wait_until(at: datetime) -> None:
    await asyncio.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds()))


async def wait_published(sessions: sessionmaker[Session], n: int, limit: datetime) -> float | None:
    """Seconds (monotonic) at which `n` tickets are in the projection; None if not by `limit`."""
    while datetime.now(UTC) < limit:
        if tickets_published(sessions) >= n:
            return time.monotonic()
        await asyncio.sleep(0.5)
    return None


def progress(sessions: sessionmaker[Session]) -> tuple[int, int]:
    """Cheap counts while waiting: ESCALATED events, escalation notices sent."""
    escalated = select(func.count()).where(TimelineRow.kind == EventKind.ESCALATED.value)
    sent = select(func.count()).where(
        NotificationRow.kind == NotificationKind.ESCALATION.value,
        NotificationRow.status == DeliveryStatus.SENT.value,
    )
    return count(sessions, escalated), count(sessions, sent)


async def wait_escalated(
    sessions: sessionmaker[Session], expected: set[str], limit: datetime
) -> Observed:
    while True:
        done = min(progress(sessions)) >= len(expected)
        if done or datetime.now(UTC) >= limit:
            seen = observe(sessions, expected)
            if seen.complete(expected) or datetime.now(UTC) >= limit:
                return seen
        await asyncio.sleep(1)


# --- what the services say ------------------------------------------------------------------


def server_metrics(stack: Stack) -> dict[str, float]:
    """The dev server's Prometheus counters (its metrics address is in its log), by series."""
    log = (stack.var / "temporal.log").read_text(errors="replace")
    found = re.search(r"Temporal Metrics:\s+(http://\S+/metrics)", log)
    if found is None:
        return {}
    with urllib.request.urlopen(found.group(1), timeout=10) as response:
        text = response.read().decode()
    series: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            with contextlib.suppress(ValueError):
                series[key] = float(value)
    return series


def grown(before: dict[str, float], after: dict[str, float], match: Callable[[str], bool]) -> float:
    """How much the series of `after` that `match` picks grew since `before`, summed."""
    return sum(v - before.get(k, 0.0) for k, v in after.items() if match(k))


def named(name: str, op: str | None = None) -> Callable[[str], bool]:
    """Picks the series of the metric `name` (of one `operation`, if given)."""
    return lambda k: k.split("{", 1)[0] == name and (op is None or f'operation="{op}"' in k)


def server_counts(before: dict[str, float], after: dict[str, float]) -> dict[str, int]:
    """What the server did between two scrapes that tells where time went: full histories sent
    for a replay (a worker that no longer caches the workflow fetches it), and timeouts (a
    workflow task not picked up from its worker's sticky queue within 10 s is timed out and
    scheduled again on the normal queue)."""
    fetches = named("service_requests", "GetWorkflowExecutionHistory")
    out = {
        "history_fetches": int(
            grown(before, after, lambda k: fetches(k) and 'service_name="frontend"' in k)
        )
    }
    for name in sorted({k.split("{", 1)[0] for k in after}):
        idle = "poll" in name or name.endswith(("_bucket", "_sum", "_overrides"))
        if "timeout" in name and not idle:  # long polls that end empty are no trouble
            out[name] = int(grown(before, after, named(name)))
    return out


def server_wait(before: dict[str, float], after: dict[str, float], wall: float) -> dict[str, Any]:
    """Where the engine's own time went between two scrapes: how long the tasks matched meanwhile
    waited in the server for a worker to take them, and how busy its store was (the sum of
    its requests' latencies over the wall time: above 1, requests queued for the store)."""
    by_op: Counter[str] = Counter()
    for k in after:
        found = re.search(r'operation="([^"]+)"', k)
        if found and named("persistence_requests")(k):
            by_op[found.group(1)] += int(after[k] - before.get(k, 0.0))
    tasks = grown(before, after, named("task_schedule_to_start_latency_count"))
    waited = grown(before, after, named("task_schedule_to_start_latency_sum"))
    store_s = grown(before, after, named("persistence_latency_sum"))
    return {
        "tasks_matched": int(tasks),
        "task_wait_mean_s": round(waited / tasks, 2) if tasks else 0.0,
        "store_requests": sum(by_op.values()),
        "store_busy_s": round(store_s, 1),
        "store_load": round(store_s / wall, 2) if wall > 0 else 0.0,
        "store_requests_by_operation": dict(by_op.most_common(8)),
    }


def worker_log_counts(stack: Stack) -> dict[str, int]:
    """Workflow tasks the worker failed, and how many for a false deadlock (a task that held
    the CPU-starved worker thread for over 2 s): each costs the ticket a retry."""
    path = stack.var / "worker.log"
    text = path.read_text(errors="replace") if path.exists() else ""
    return {
        "workflow_task_failures": text.count("Failing workflow task"),
        "deadlock_detected": text.count("temporalio.worker._workflow._DeadlockError"),
    }


# --- the burst ------------------------------------------------------------------------------


async def connect(stack: Stack) -> Client:
    return await stack.temporal_client()


async def bare_burst(stack: Stack, client: Client, n: int, lead: float) -> dict[str, Any]:
    """N bare timers armed for one instant `lead` seconds ahead, on this process's worker."""
    bare = BareTimers(client, n, cache=max(n, 1000))
    due = datetime.now(UTC) + timedelta(seconds=lead)
    async with bare.worker:
        t0 = time.monotonic()
        await bare.arm(due)
        armed = time.monotonic() - t0
        await wait_until(due - timedelta(seconds=1))
        metrics, t1 = server_metrics(stack), time.monotonic()
        late = await bare.lateness()
        wall = time.monotonic() - t1
        await asyncio.sleep(METRICS_FLUSH_S)
        server = server_wait(metrics, server_metrics(stack), wall)
    return {
        "due_at": due.isoformat(),
        "started_s": round(armed, 1),
        **summary(late),
        "server": server,
    }


async def burst(stack: Stack, n: int, lead: float | None, timeout: float) -> dict[str, Any]:
    client = await connect(stack)
    sessions = make_sessionmaker(make_engine(stack.database_url))
    queue = stack.env["TEMPORAL_TASK_QUEUE"]
    usage = Usage(stack)
    # First the engine alone: N bare timers for one instant, fired while nothing else runs.
    usage.mark("bare")
    bare = await bare_burst(stack, client, n, 20 + n / 50)
    usage.mark("bare done")
    # Then the tickets: hours that open at a minute boundary after every ticket can be armed.
    lead_s = lead if lead is not None else 30 + n / 25
    opens = ceil_minute(datetime.now(UTC) + timedelta(seconds=lead_s))
    due = opens + FIRST_RESPONSE
    expected = {number_of(i) for i in range(n)}
    usage.mark("arm")
    t0 = time.monotonic()
    await start_tickets(client, queue, range(n), burst_plan(opens))
    started = time.monotonic() - t0
    published_at = await wait_published(sessions, n, due)
    usage.mark("armed")
    await wait_until(opens)
    at_opening = {"published": tickets_published(sessions), "queued": outbox_queued(sessions)}
    await wait_until(due - timedelta(seconds=2))
    usage.mark("due")
    metrics = server_metrics(stack)
    queued_at_due = outbox_queued(sessions)
    t_due = time.monotonic()
    seen = await wait_escalated(sessions, expected, due + timedelta(seconds=timeout))
    usage.mark("escalated")
    burst_wall = time.monotonic() - t_due
    await asyncio.sleep(METRICS_FLUSH_S)
    after = server_metrics(stack)
    due_counts = Counter(seen.due.values())
    return {
        "tickets": n,
        "bare_timer": bare,
        "opens_at": opens.isoformat(),
        "due_at": due.isoformat(),
        "tickets_started_s": round(started, 1),
        "tickets_published_s": None if published_at is None else round(published_at - t0, 1),
        "at_opening": at_opening,
        "outbox_queued_at_due": queued_at_due,
        "tickets_due_at_the_instant": due_counts.get(due, 0),
        **seen.figures(expected),
        "server_during_burst": server_counts(metrics, after),
        "server_wait": server_wait(metrics, after, burst_wall),
        "worker_log": worker_log_counts(stack),
        "cpu_s": {
            "bare_phase": usage.between("bare", "bare done"),
            "arming": usage.between("arm", "armed"),
            "burst": usage.between("due", "escalated"),
        },
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def fresh_stack(var: Path, temporal_file: bool, **env: str) -> Stack:
    shutil.rmtree(var, ignore_errors=True)  # a fresh stack each run; logs stay for reading
    return Stack.on_free_ports(
        var,
        f"sqlite:///{var / 'ticketflow.db'}",
        temporal_db=str(var / "temporal.db") if temporal_file else None,
        worker_processes=os.cpu_count() or 1,  # as make run starts them
        # The services import this checkout, not whichever one the venv was installed from.
        extra_env={
            "TEMPORAL_TASK_QUEUE": f"bench-{uuid.uuid4().hex[:6]}",
            "PYTHONPATH": str(ROOT),
            **env,
        },
    )


def run_burst(
    var: Path, n: int, lead: float | None, timeout: float, temporal_file: bool
) -> dict[str, Any]:
    stack = fresh_stack(var, temporal_file)
    try:
        stack.start_temporal()
        stack.migrate_and_load(ROOT / "config" / "demo.yaml")
        stack.start_services()
        return asyncio.run(burst(stack, n, lead, timeout))
    finally:
        stack.stop()


def verdict(p99: float | None) -> str:
    if p99 is None:
        return "n/a"
    if p99 <= GOAL_S:
        return "goal met"
    return "target met" if p99 <= TARGET_S else "MISSED"


def fmt(figures: dict[str, float]) -> str:
    if not figures.get("n"):
        return "                    none"
    return f"{figures['p50_s']:7.2f} {figures['p99_s']:7.2f} {figures['max_s']:7.2f}"


def notes(result: dict[str, Any]) -> list[str]:
    """Where the time went: arming, the outbox, CPU, the server's and the worker's troubles."""
    cpu, bare_cpu = result["cpu_s"]["burst"], result["cpu_s"]["bare_phase"]
    server, worker = result["server_during_burst"], result["worker_log"]
    timeouts = ", ".join(f"{k} {v}" for k, v in server.items() if k != "history_fetches")
    return [
        f"{'':>9}{result['tickets_due_at_the_instant']} due at the one instant; all published "
        f"{result['tickets_published_s']} s after the first start "
        f"({result['at_opening']['published']} by opening); "
        f"outbox queued at due: {result['outbox_queued_at_due']}",
        f"{'':>9}ticket burst {cpu['wall']} s: CPU s worker {cpu['worker']}, temporal "
        f"{cpu['temporal']}, notify {cpu['notify']}, bench {cpu['bench']}; machine CPU pressure "
        f"{cpu['cpu_pressure_pct']}% (bare phase: {bare_cpu['cpu_pressure_pct']}%)",
        *(
            f"{'':>9}{label}: tasks waited {w['task_wait_mean_s']} s on average for a worker "
            f"({w['tasks_matched']} tasks); store busy {w['store_busy_s']} s "
            f"({w['store_load']}x the wall time, {w['store_requests']} requests, "
            f"{w['store_requests_by_operation'].get('UpdateWorkflowExecution', 0)} workflow "
            "updates)"
            for label, w in (
                ("engine, bare phase", result["bare_timer"]["server"]),
                ("engine, ticket burst", result["server_wait"]),
            )
        ),
        f"{'':>9}server: {timeouts or 'no timeouts'}; history fetches "
        f"{server['history_fetches']}; worker: {worker['workflow_task_failures']} workflow "
        f"tasks failed ({worker['deadlock_detected']} false deadlocks)",
    ]


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        f"Escalation burst: p99 lateness target {TARGET_S:g} s (goal {GOAL_S:g} s); "
        "lateness from the due time, in seconds",
        f"{'tickets':>7}  {'measured to':<38} {'p50':>7} {'p99':>7} {'max':>7}  verdict",
    ]
    rows = (
        ("bare_timer", "bare Temporal timer fired (own phase)"),
        ("timeline_escalated", "ESCALATED on the timeline"),
        ("notice_stored", "escalation notice stored (outbox)"),
        ("notice_sent", "escalation notice sent (notify)"),
    )
    for result in results:
        for key, label in rows:
            figures = result[key]
            judged = verdict(figures.get("p99_s")) if key != "bare_timer" else ""
            lines.append(f"{result['tickets']:>7}  {label:<38} {fmt(figures)}  {judged}")
        once = result["exactly_once"]
        lines.append(
            f"{'':>7}  exactly once: escalated {once['escalated_once']}/{once['tickets']} "
            f"(missing {once['escalated_missing']}, repeated {once['escalated_more_than_once']}); "
            f"notice {once['notice_once']}/{once['tickets']} (missing {once['notice_missing']}, "
            f"repeated {once['notice_more_than_once']}, sent {once['notice_sent']})"
        )
        lines += notes(result)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument(
        "--lead", type=float, default=None, help="seconds before opening (default: 30 + N/25)"
    )
    parser.add_argument(
        "--timeout", type=float, default=240, help="seconds after the due time to wait"
    )
    parser.add_argument(
        "--temporal", choices=["memory", "file"], default="memory", help="dev server storage"
    )
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "bench" / "escalation")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "escalation.json")
    args = parser.parse_args()
    results = []
    for n in args.tickets:
        started = time.monotonic()
        var = args.var.resolve() / str(n)
        result = run_burst(var, n, args.lead, args.timeout, args.temporal == "file")
        result["run_wall_s"] = round(time.monotonic() - started, 1)
        print(json.dumps(result, indent=2), flush=True)
        results.append(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": results}, indent=2))
    print(table(results))


if __name__ == "__main__":
    main()
