"""What the benchmarks that start a whole stack share: its database, its start and a stop
checked process by process, the dev agents' credentials, percentiles, CPU from /proc."""

import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from services.devstack import Stack
from services.web.console.agent import COOKIE, SignedIn
from shared.percentiles import percentile_cont
from tests import databases
from tests.processes import Proc, family, kill_all, wait_gone

ROOT = Path(__file__).resolve().parents[1]
TICKS = os.sysconf("SC_CLK_TCK")
# The demo configuration's agents (config/demo.yaml): Jane is an admin, John an agent.
JANE_TOKEN = "dev-jane-token"
JOHN_TOKEN = "dev-john-token"
JANE = SignedIn(
    token=JANE_TOKEN, handle="jane", name="Jane Doe", email="jane@example.com", role="admin"
)  # as the console knows her once signed in

Op = Callable[[], Awaitable[None]]  # one request, raising unless answered as it should be
K = TypeVar("K", bound=Hashable)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def console_session(client: httpx.AsyncClient, token: str) -> None:
    """Sign `client` in to the console as the agent of `token`, as its sign-in would (the
    cookie holds a credential the API accepts; a dev token is one)."""
    client.cookies.set(COOKIE, token, path="/agent")


# Timing and figures.


async def alternating(rounds: int, ops: dict[K, Op]) -> dict[K, list[float]]:
    """Each op's latencies in ms, every op once a round, the order rotating from round to
    round: the machine's noise (the worker's background work, a neighbour) weighs on each
    alike, and none always follows the same one."""
    names = list(ops)
    taken: dict[K, list[float]] = {name: [] for name in names}
    for i in range(rounds):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            started = time.perf_counter()
            await ops[name]()
            taken[name].append((time.perf_counter() - started) * 1000)
    return taken


def percentile(values: Sequence[float], fraction: float) -> float:
    """The `fraction` percentile of `values` (in any order, at least one), interpolated as
    PostgreSQL's percentile_cont."""
    found = percentile_cont(sorted(values), fraction)
    if found is None:
        raise ValueError("no values")
    return found


def percentiles(values: Sequence[float], *fractions: float) -> dict[str, float | None]:
    """{"p50": …, "p99": …} for fractions 0.5, 0.99 (None where there are no values)."""
    ordered = sorted(values)
    return {f"p{round(f * 100)}": percentile_cont(ordered, f) for f in fractions}


def ratio(mine: dict[str, float | None], theirs: dict[str, float | None]) -> float | None:
    """The p50 of `mine` over that of `theirs` (as `percentiles` gives them)."""
    a, b = mine.get("p50"), theirs.get("p50")
    return None if a is None or not b else a / b


def cpu_seconds(procs: set[Proc]) -> float:
    """User and system CPU seconds `procs` have taken, from /proc (those gone count 0)."""
    total = 0
    for proc in procs:
        try:
            fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def rounded(value: Any) -> Any:
    """`value` with every float rounded to 3 places, for the JSON results."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value


# The database and the stack.


@contextmanager
def database(name: str, url: str | None, var: Path) -> Iterator[str]:
    """A SQLite file in `var`, the PostgreSQL database `url`, or (no `url`) a throw-away
    PostgreSQL database at 127.0.0.1:5432 as the tests make one, dropped at this process's
    exit."""
    if name == "sqlite":
        yield f"sqlite:///{var / 'ticketflow.db'}"
    elif url is not None:
        yield url
    else:
        os.environ["TICKETFLOW_REQUIRE_POSTGRES"] = "1"  # fail, never skip
        with databases.postgres_database() as fresh:
            yield fresh


@dataclass
class Started:
    """A running stack, and every process of it seen (survivors: those its stop left)."""

    stack: Stack
    processes: set[Proc] = field(default_factory=set)
    survivors: set[Proc] = field(default_factory=set)

    def note(self) -> None:
        for proc in self.stack.procs.values():
            self.processes |= family(proc.pid)


@contextmanager
def started_stack(
    var: Path,
    database_url: str,
    *,
    name: str,
    prepare: Callable[[], None] | None = None,
    extra_env: dict[str, str] | None = None,
    **options: Any,
) -> Iterator[Started]:
    """The whole stack on free ports (Temporal file-backed in `var`, the demo configuration
    loaded, `prepare` run before the services start), as `make run` starts it; its own task
    queue. On the way out it is stopped and each of its processes checked gone (killed, and
    said so, if not)."""
    env = {"TEMPORAL_TASK_QUEUE": f"{name}-{uuid.uuid4().hex[:6]}", **(extra_env or {})}
    stack = Stack.on_free_ports(
        var, database_url, temporal_db=str(var / "temporal.db"), extra_env=env, **options
    )
    started = Started(stack)
    try:
        stack.start_temporal()
        stack.migrate_and_load(ROOT / "config" / "demo.yaml")
        if prepare is not None:
            prepare()
        stack.start_services()
        started.note()
        yield started
    except BaseException:
        if dead := stack.dead():  # the likeliest reason: say so before the traceback
            print(f"{name}: stopped early: {', '.join(dead)} (logs in {var})", file=sys.stderr)
        raise
    finally:
        started.note()
        stack.stop()
        started.survivors = wait_gone(started.processes, timeout=10)
        kill_all(started.survivors)
        if started.survivors:
            print(f"{name}: SURVIVED the stop, killed: {started.survivors}", file=sys.stderr)
