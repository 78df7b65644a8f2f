"""Data-key database lookups, timed, for `bench.run`: which encrypted commands waited for one.

The key store (shared/crypto/key_store.py) reads the database only when its cache misses (a
key is kept 30 s). Each such read, thread hop included, becomes a line of a file: pid, what,
start (epoch seconds), seconds. The encrypted services record theirs through
bench/probe/sitecustomize.py, the bench its own (its client encrypts the bare update).
"""

import os
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
ENV = "BENCH_KEY_LOADS"
ROOT = Path(__file__).resolve().parents[1]


def probe_env(path: Path) -> dict[str, str]:
    """The environment that makes a process record its lookups to `path`."""
    paths = [str(ROOT / "bench" / "probe"), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {"PYTHONPATH": os.pathsep.join(filter(None, paths)), ENV: str(path)}


def install(path: str) -> None:
    """Time every database lookup of this process's key stores into `path`."""
    from shared.crypto import key_store
    from shared.db.threads import in_thread

    async def timed(work: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        start, began = time.time(), time.perf_counter()
        try:
            return await in_thread(work, *args, **kwargs)
        finally:
            took = time.perf_counter() - began
            name = getattr(work, "__name__", "lookup")
            with open(path, "a") as file:
                file.write(f"{os.getpid()} {name} {start:.6f} {took:.6f}\n")

    vars(key_store)["in_thread"] = timed  # looked up at each call


@dataclass(frozen=True)
class KeyLoad:
    pid: int
    what: str
    start: float
    seconds: float

    def overlaps(self, span: tuple[float, float]) -> bool:
        return self.start < span[1] and self.start + self.seconds > span[0]


def read(path: Path) -> list[KeyLoad]:
    if not path.exists():
        return []
    loads = []
    for line in path.read_text().splitlines():
        pid, what, start, seconds = line.split()
        loads.append(KeyLoad(int(pid), what, float(start), float(seconds)))
    return loads


def waits(
    loads: Iterable[KeyLoad], who: dict[int, str], spans: list[tuple[float, float]]
) -> tuple[dict[str, float], list[bool]]:
    """The lookups of the processes `who` names (pid: name) made while `spans` (one op's
    samples, in order) ran: how many by each, how long they took; and which samples
    overlapped one."""
    window = (spans[0][0], spans[-1][1])
    inside = [load for load in loads if load.pid in who and load.overlaps(window)]
    waiting = [any(load.overlaps(span) for load in inside) for span in spans]
    out: dict[str, float] = {f"lookups_{name}": 0 for name in sorted(set(who.values()))}
    for load in inside:
        out[f"lookups_{who[load.pid]}"] += 1
    out["lookups"] = len(inside)
    out["lookup_mean_ms"] = statistics.mean(x.seconds for x in inside) * 1000 if inside else 0
    out["lookup_max_ms"] = max((x.seconds for x in inside), default=0) * 1000
    out["samples_waiting"] = sum(waiting)
    return out, waiting
