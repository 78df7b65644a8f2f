"""A per-client limit on what one browser may send per hour, kept in this process (several
portal processes each keep their own: the API's limits hold behind them anyway)."""

import time
from collections import deque
from collections.abc import Callable

WINDOW = 3600.0
# Clients kept at most; past it, those idle for a whole window are forgotten.
MAX_CLIENTS = 10_000


class RateLimit:
    def __init__(self, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = per_hour
        self._clock = clock
        self._sent: dict[str, deque[float]] = {}

    def take(self, client: str) -> int | None:
        """None if `client` may send now (counted), else the seconds until it may."""
        now = self._clock()
        sent = self._sent.setdefault(client, deque())
        while sent and sent[0] <= now - WINDOW:
            sent.popleft()
        if len(sent) >= self._limit:
            return max(1, int(sent[0] + WINDOW - now) + 1)
        sent.append(now)
        if len(self._sent) > MAX_CLIENTS:
            self._forget_idle(now)
        return None

    def _forget_idle(self, now: float) -> None:
        idle = [
            client for client, sent in self._sent.items() if not sent or sent[-1] <= now - WINDOW
        ]
        for client in idle:
            del self._sent[client]
