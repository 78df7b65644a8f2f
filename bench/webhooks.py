"""Webhook delivery: events per second delivered to a local receiver, and latency from each
event's publication (its row committed) to its receipt, beside a bare baseline in the same
run (the same receiver, the same bodies, POSTed by a plain httpx loop).

The events are published straight into the change feed, a ticket's events each in its own
transaction as the workflow publishes them; a real notify process (`ticketflow notify`)
dispatches and delivers them. Two runs: a burst (every event at once: throughput) and a
paced stream (latency when the system keeps up).

`python -m bench.webhooks [--events 2000] [--tickets 100] [--postgres]`
"""

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.orm import Session, sessionmaker

from services.notify.webhook_sender import body_of
from services.processes import die_with_parent, free_port, terminate, wait_healthy
from shared.db import webhooks
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.events import append_events, events_by_id
from shared.domain import lifecycle
from shared.domain.enums import Action, ActorKind
from shared.domain.events import event_id
from shared.domain.models import Actor, TicketCommand, TicketState
from shared.domain.webhook_urls import UrlPolicy
from tests import databases
from tests.builders import new_input, ref
from tests.webhook_receiver import Receiver

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
JANE = Actor(kind=ActorKind.AGENT, name="Jane", handle="jane")
T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def steps(first: int, tickets: int, per_ticket: int) -> list[TicketState]:
    """Each ticket's publications (a state carrying only its new events), round-robin."""
    lanes: list[list[TicketState]] = []
    for t in range(tickets):
        state, _ = lifecycle.open_ticket(new_input(number=str(first + t)), T0)
        lane = [state.model_copy(deep=True)]
        state.timeline = []
        while sum(len(s.timeline) for s in lane) < per_ticket:
            n = len(lane)
            action = Action.NOTE if n % 2 else Action.RESPOND
            cmd = TicketCommand(
                command_id=f"b{n}", action=action, actor=JANE, message=ref(f"step {n}")
            )
            lifecycle.apply(state, cmd, T0 + timedelta(seconds=n))
            lane.append(state.model_copy(deep=True))
            state.timeline, state.thread = [], []
        lanes.append(lane)
    return [lane[i] for i in range(max(map(len, lanes))) for lane in lanes if i < len(lane)]


def publish(
    sessions: sessionmaker[Session], states: list[TicketState], rate: float | None
) -> dict[str, float]:
    """Commit each publication; when each event's row was committed (time.time())."""
    committed: dict[str, float] = {}
    start = time.perf_counter()
    for i, state in enumerate(states):
        if rate is not None:
            time.sleep(max(0.0, start + i / rate - time.perf_counter()))
        with sessions.begin() as session:
            append_events(session, state)
        now = time.time()
        for event in state.timeline:
            committed[event_id(state.number, event.seq)] = now
    return committed


def received_all(receiver: Receiver, ids: set[str], timeout: float) -> dict[str, float]:
    """The first receipt time of each event of `ids`, once all have arrived."""
    deadline = time.monotonic() + timeout
    while True:
        first: dict[str, float] = {}
        for got in receiver.requests():
            eid = got.event["id"]
            if eid in ids and eid not in first:
                first[eid] = got.at
        if len(first) == len(ids):
            return first
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(ids) - len(first)} of {len(ids)} events never arrived")
        time.sleep(0.05)


def measure_run(
    sessions: sessionmaker[Session],
    receiver: Receiver,
    states: list[TicketState],
    rate: float | None,
) -> dict[str, float]:
    committed = publish(sessions, states, rate)
    got = received_all(receiver, set(committed), timeout=600)
    latency = [(got[e] - committed[e]) * 1000 for e in committed]
    span = max(got.values()) - min(committed.values())
    ids: dict[str, set[str]] = {}
    for r in receiver.requests():
        ids.setdefault(r.event["id"], set()).add(r.headers["webhook-id"])
    return {
        "events": len(committed),
        "published_per_s": len(committed) / (max(committed.values()) - min(committed.values())),
        "events_per_s": len(committed) / span,
        "p50_ms": pct(latency, 50),
        "p99_ms": pct(latency, 99),
        "max_ms": max(latency),
        "events_under_two_ids": sum(1 for e in committed if len(ids.get(e, ())) > 1),
    }


def bare(receiver: Receiver, bodies: list[bytes], concurrency: int) -> dict[str, float]:
    """The same bodies POSTed by a plain httpx loop: throughput with `concurrency` threads
    sharing a client, then one at a time for the round-trip latency."""
    with httpx.Client(timeout=10) as client:

        def post(body: bytes) -> None:
            client.post(receiver.url, content=body, headers={"content-type": "application/json"})

        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(post, bodies))
        per_s = len(bodies) / (time.perf_counter() - start)
        rtts = []
        for body in bodies[:500]:
            t = time.perf_counter()
            post(body)
            rtts.append((time.perf_counter() - t) * 1000)
    return {"events_per_s": per_s, "p50_ms": pct(rtts, 50), "p99_ms": pct(rtts, 99)}


@contextmanager
def notify_process(url: str, var: Path) -> Iterator[None]:
    port = free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        ENVIRONMENT="test",
        NOTIFY_PORT=str(port),
        NOTIFY_DELIVER_OUTBOX="false",
    )
    var.mkdir(parents=True, exist_ok=True)
    with open(var / "notify.log", "ab") as log:
        proc = subprocess.Popen(
            [str(BIN / "ticketflow"), "notify"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(),
        )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/healthz")
        yield
    finally:
        terminate([proc], grace=10)


@contextmanager
def database(postgres: bool, var: Path) -> Iterator[str]:
    if postgres:
        os.environ["TICKETFLOW_REQUIRE_POSTGRES"] = "1"
        with databases.postgres_database() as url:
            yield url
    else:
        var.mkdir(parents=True, exist_ok=True)
        with databases.sqlite_database(var) as url:
            yield url


def run(args: argparse.Namespace) -> dict[str, Any]:
    var: Path = (ROOT / "var" / "bench" / "webhooks-stack").resolve()
    per_ticket = max(2, args.events // args.tickets)
    burst = steps(200_000, args.tickets, per_ticket)
    paced = steps(300_000, max(1, args.tickets // 2), per_ticket)[: args.paced]
    receiver = Receiver(keep_alive=True)
    receiver.start()
    try:
        with database(args.postgres, var) as url:
            sessions = make_sessionmaker(make_engine(url))
            with sessions.begin() as session:
                data = webhooks.NewSubscription(
                    handle="bench", url=receiver.url, secret=None, event_types=[],
                    departments=[], help_topics=[], include_internal=True, active=True,
                    from_beginning=False,
                )  # fmt: skip
                webhooks.create(session, data, UrlPolicy.of("test"), datetime.now(UTC))
            with notify_process(url, var):
                results = {
                    "burst": measure_run(sessions, receiver, burst, rate=None),
                    "paced": measure_run(sessions, receiver, paced, rate=args.rate),
                }
            with sessions() as session:
                ids = list(dict.fromkeys(r.event["id"] for r in receiver.requests()))
                bodies = [body_of(e) for e in events_by_id(session, ids[: args.events]).values()]
        results["bare"] = bare(receiver, bodies, args.concurrency)
    finally:
        receiver.stop()
    results["ratios"] = {
        "events_per_s": results["burst"]["events_per_s"] / results["bare"]["events_per_s"],
        "paced_p50": results["paced"]["p50_ms"] / results["bare"]["p50_ms"],
        "paced_p99": results["paced"]["p99_ms"] / results["bare"]["p99_ms"],
    }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--tickets", type=int, default=100)
    parser.add_argument("--paced", type=int, default=500, help="events of the paced run")
    parser.add_argument("--rate", type=float, default=50.0, help="publications per s, paced")
    parser.add_argument("--concurrency", type=int, default=16, help="of the bare loop")
    parser.add_argument("--postgres", action="store_true", help="a throw-away PostgreSQL DB")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "webhooks.json")
    args = parser.parse_args()
    results = run(args)
    burst, paced, base = results["burst"], results["paced"], results["bare"]
    print(f"database: {'postgresql' if args.postgres else 'sqlite'}, one subscription, "
          f"{burst['events']} events over {args.tickets} tickets")  # fmt: skip
    print(
        f"  burst     {burst['events_per_s']:8.1f} events/s delivered; latency p50 "
        f"{burst['p50_ms']:.0f} ms, p99 {burst['p99_ms']:.0f} ms (from commit to receipt)"
    )
    print(
        f"  paced     {paced['events']} events at {args.rate:g} publications/s; latency p50 "
        f"{paced['p50_ms']:.1f} ms, p99 {paced['p99_ms']:.1f} ms"
    )
    print(
        f"  bare POST {base['events_per_s']:8.1f} events/s ({args.concurrency} threads); "
        f"round trip p50 {base['p50_ms']:.2f} ms, p99 {base['p99_ms']:.2f} ms"
    )
    ratios = results["ratios"]
    print(
        f"  ratios    throughput {ratios['events_per_s']:.3f} of bare; paced latency "
        f"p50 {ratios['paced_p50']:.0f}x, p99 {ratios['paced_p99']:.0f}x a bare round trip"
    )
    twice = burst["events_under_two_ids"] + paced["events_under_two_ids"]
    print(f"  events received under two webhook-ids: {twice}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"args": vars(args), **results}, indent=2, default=str))


if __name__ == "__main__":
    main()
