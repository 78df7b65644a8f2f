"""Open event streams and a server's stop: uvicorn lets open answers finish before it stops,
and a stream never finishes, so its SIGTERM and SIGINT handlers are wrapped to set an event
that ends the streams first (intake's feed streams, the console's relays)."""

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any


def end_streams_on_signals(closing: asyncio.Event) -> Callable[[], None]:
    """Wrap the process's SIGTERM and SIGINT handlers to set `closing` first; answers the undo.
    A server in a thread (tests) is left alone: its streams end with their clients."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    previous: dict[int, Any] = {}

    def handler(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(closing.set)
        then = previous.get(signum)
        if callable(then):
            then(signum, frame)

    for sig in (signal.SIGTERM, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)

    def undo() -> None:
        for sig, then in previous.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, then)

    return undo
