"""Blocking database work from async code: in a worker thread, never on the event loop.

A pooled connection waited for on the event loop's thread stalls every request of the process
(and with SQLite's one writer, can deadlock it until the pool's timeout). Async entry points
hand each unit of database work to `in_thread`, and hold no session across an `await`.
"""

import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from anyio import to_thread

P = ParamSpec("P")
T = TypeVar("T")


async def in_thread(work: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`work(*args, **kwargs)` in anyio's worker thread pool (the one Starlette uses)."""
    return await to_thread.run_sync(functools.partial(work, *args, **kwargs))
