"""Escalation lateness: 2,000 open tickets whose first-response deadlines fall in one minute.

Lateness is the time from a deadline to the escalation the workflow recorded (and to the
notification the notify service stored), beside a bare Temporal timer's lateness measured in
the same run against the same server: `python -m bench.escalation [--tickets 2000]`.
"""

import argparse
import asyncio
import json
import shutil
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker

from bench.bare import BareTimerWorkflow
from services.devstack import Stack
from services.workflows.ticket_workflow import TicketWorkflow
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import Notification, SlaClockFact
from shared.domain.enums import Priority, Source
from shared.domain.ids import ticket_workflow_id
from shared.domain.models import Person, SlaPlanSnapshot, TicketInput

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_s": round(statistics.median(values), 3),
        "p99_s": round(pct(values, 99), 3),
        "max_s": round(max(values), 3),
    }


async def bare(client: Client, n: int, window_start: datetime) -> list[float]:
    queue = f"bare-timers-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=queue, workflows=[BareTimerWorkflow]):
        handles = await asyncio.gather(
            *(
                client.start_workflow(
                    BareTimerWorkflow.run,
                    window_start + timedelta(seconds=i % 60),
                    id=f"bare-timer-{queue}-{i}",
                    task_queue=queue,
                )
                for i in range(n)
            )
        )
        # Each result() is a long poll: bound them, the server limits concurrent pollers.
        sem = asyncio.Semaphore(50)

        async def result(handle: WorkflowHandle[BareTimerWorkflow, float]) -> float:
            async with sem:
                return await handle.result()

        return list(await asyncio.gather(*(result(h) for h in handles)))


async def tickets(
    client: Client, stack: Stack, n: int, window_start: datetime
) -> dict[str, object]:
    queue = stack.env["TEMPORAL_TASK_QUEUE"]
    base = uuid.uuid4().int % 900_000
    sem = asyncio.Semaphore(32)

    opened = datetime.now(UTC)

    async def start(i: int) -> None:
        # Every ticket counts from `opened`, so its deadline lands exactly at `due`, whenever
        # its workflow gets to run its first task.
        due = window_start + timedelta(seconds=i % 60)
        plan = SlaPlanSnapshot(
            handle="bench",
            name="bench",
            first_response=due - opened,
            resolution=timedelta(days=30),
            auto_close=timedelta(days=30),
        )
        data = TicketInput(
            number=str(100_000 + (base + i) % 900_000),
            subject=f"bench {i}",
            message="late?",
            requester=Person(name="Bench", email="bench@example.com"),
            help_topic="online-banking",
            department="online-banking",
            priority=Priority.NORMAL,
            source=Source.API,
            sla_plan=plan,
            idempotency_key=uuid.uuid4().hex,
            opened_at=opened,
        )
        async with sem:
            await client.start_workflow(
                TicketWorkflow.run, data, id=ticket_workflow_id(data.number), task_queue=queue
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(start(i) for i in range(n)))
    started_in = time.perf_counter() - t0
    sessions = make_sessionmaker(make_engine(stack.database_url))
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        with sessions() as session:
            rows = session.execute(
                select(SlaClockFact.ticket, SlaClockFact.due_at, SlaClockFact.breached_at).where(
                    SlaClockFact.clock == "first_response", SlaClockFact.breached_at.is_not(None)
                )
            ).all()
        if len(rows) >= n:
            break
        await asyncio.sleep(2)
    with sessions() as session:
        sent = dict(
            session.execute(
                select(Notification.ticket, Notification.sent_at).where(
                    Notification.kind == "escalation"
                )
            ).all()
        )
    recorded = [(b - d).total_seconds() for _, d, b in rows if b is not None]
    notified = [(s - d).total_seconds() for t, d, _ in rows if (s := sent.get(t)) is not None]
    return {
        "escalated": len(rows),
        "started_in_s": round(started_in, 1),
        "recorded": summary(recorded),
        "notified": summary(notified) if notified else {},
        "notified_count": len(notified),
    }


async def measure(stack: Stack, n: int) -> dict[str, object]:
    client = await Client.connect(
        f"127.0.0.1:{stack.temporal_port}", data_converter=pydantic_data_converter
    )
    # The deadline minute starts only once every workflow has started and settled (created,
    # persisted, acknowledged): lateness is measured at the deadlines, not through a backlog.
    lead = timedelta(seconds=max(30, n // 8))
    bare_late = await bare(client, n, datetime.now(UTC) + timedelta(seconds=max(30, n // 40)))
    ticket = await tickets(client, stack, n, datetime.now(UTC) + lead)
    return {"bare_timer": summary(bare_late), "tickets": ticket}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=2000)
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "bench" / "escalation")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "escalation.json")
    args = parser.parse_args()
    var: Path = args.var.resolve()
    shutil.rmtree(var, ignore_errors=True)
    stack = Stack.on_free_ports(
        var,
        f"sqlite:///{var / 'ticketflow.db'}",
        temporal_db=str(var / "temporal.db"),
        extra_env={"TEMPORAL_TASK_QUEUE": f"bench-{uuid.uuid4().hex[:6]}"},
    )
    try:
        stack.start_temporal()
        stack.migrate_and_load(ROOT / "config" / "demo.yaml")
        stack.start_services()
        results = asyncio.run(measure(stack, args.tickets))
    finally:
        stack.stop()
    print(json.dumps(results, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"tickets": args.tickets, **results}, indent=2))


if __name__ == "__main__":
    main()
