"""The webhook loops of a notify process, beside the mail outbox's (NOTIFY_DELIVER_WEBHOOKS).

- The dispatcher queues each active subscription's new feed events (`webhook_queue.dispatch`).
- The delivery loop claims due deliveries (a batch in one transaction) and POSTs them on a
  thread pool: at most WEBHOOK_CONCURRENCY at once, each subscription at most half of them (so
  one slow endpoint never takes every slot), one at a time per (subscription, ticket) by
  construction of `due`; a settler thread records the answers, a batch per transaction.

Any number of notify processes may run both loops: queueing moves a cursor conditionally and
each attempt is claimed, so nothing is queued twice and no delivery is sent by two at once.
"""

import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from queue import Queue

from opentelemetry import trace
from opentelemetry.trace import Span
from sqlalchemy.orm import Session, sessionmaker

from services.notify.webhook_sender import Resolver, Sender, resolve
from shared import metrics
from shared.db import webhook_attempts as attempts
from shared.db import webhook_queue
from shared.domain.webhook_urls import UrlPolicy
from shared.domain.webhooks import Backoff, DeliveryState
from shared.settings import Settings
from shared.tracing.carrier import consumer_span

log = logging.getLogger("ticketflow.notify.webhooks")
_TRACER = trace.get_tracer(__name__)

PAGE = 500  # feed events a dispatcher pass reads per subscription
IDLE_WAIT = 0.2  # seconds between looks when nothing is due
GATHER = 0.005
SETTLE_BATCH = 64  # answers settled in one transaction at most
SWEEP_EVERY = 10.0  # seconds between looks for deliveries left waiting (none, normally)


def backoff_of(settings: Settings) -> Backoff:
    return Backoff(
        base=timedelta(seconds=settings.webhook_backoff_base_seconds),
        cap=timedelta(seconds=settings.webhook_backoff_max_seconds),
        give_up=timedelta(seconds=settings.webhook_give_up_seconds),
    )


def lease_of(settings: Settings) -> timedelta:
    """How long a claim holds a delivery: longer than any attempt (three phases, each within
    the timeout, and some slack), after which another process may send it again."""
    return timedelta(seconds=3 * settings.webhook_timeout_seconds + 5)


def dispatch_all(sessions: sessionmaker[Session]) -> int:
    """One dispatcher pass over every active subscription; feed events gone past."""
    with sessions() as session:
        ids = webhook_queue.active_subscriptions(session)
    return sum(webhook_queue.dispatch(sessions, i, datetime.now(UTC), PAGE) for i in ids)


class WebhookLoops:
    """The dispatcher and the delivery loop, each on its own thread, until stopped."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        resolver: Resolver = resolve,
        feed_wake: threading.Event | None = None,
    ) -> None:
        self._sessions = sessions
        # Set when feed events commit (services/notify/wakeups.py), or to stop.
        self._feed = feed_wake or threading.Event()
        self._settings = settings
        self._backoff = backoff_of(settings)
        self._lease = lease_of(settings)
        self._concurrency = settings.webhook_concurrency
        self._per_subscription = max(1, settings.webhook_concurrency // 2)
        policy = UrlPolicy.of(settings.environment, settings.webhook_allowed_hosts)
        self._sender = Sender(
            policy, settings.webhook_timeout_seconds, settings.webhook_concurrency, resolver
        )
        self._pool = ThreadPoolExecutor(settings.webhook_concurrency, "webhook-post")
        self._in_flight: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()  # a POST finished: its ticket's next event may go
        self._answers: Queue[tuple[attempts.LeasedAttempt, attempts.Outcome] | None] = Queue()
        self._threads = [
            threading.Thread(target=self._dispatch, name="webhook-dispatch", daemon=True),
            threading.Thread(target=self._deliver, name="webhook-deliver", daemon=True),
        ]
        self._settler = threading.Thread(target=self._settle, name="webhook-settle", daemon=True)

    def start(self) -> None:
        self._settler.start()
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stop claiming, let the POSTs under way finish, settle their answers."""
        self._stop.set()
        self._wake.set()
        self._feed.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._answers.put(None)
        self._settler.join(timeout=10)
        self._sender.close()

    def _dispatch(self) -> None:
        swept = time.monotonic()
        while not self._stop.is_set():
            self._feed.clear()  # before the look: events committed after it wake the next
            try:
                moved = dispatch_all(self._sessions)
                if time.monotonic() - swept > SWEEP_EVERY:
                    swept = time.monotonic()
                    if freed := webhook_queue.release_waiting(self._sessions, datetime.now(UTC)):
                        log.warning("%d webhook deliveries were left waiting: now due", freed)
            except Exception:  # the database may be down: log, wait, try again
                log.exception("webhook dispatch pass failed")
                moved = 0
            if moved:
                self._wake.set()  # new deliveries: the delivery loop need not wait its turn
            else:
                self._feed.wait(IDLE_WAIT)

    def _deliver(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                started = self._start_due()
            except Exception:
                log.exception("webhook delivery pass failed")
                started = 0
            if started == 0:
                self._wake.wait(IDLE_WAIT)
            # Let the answers of a moment gather: one look at the queue for several of them.
            self._stop.wait(GATHER)

    def _start_due(self) -> int:
        with self._lock:
            load = Counter(self._in_flight)
        free = self._concurrency - sum(load.values())
        if free <= 0:
            return 0
        now = datetime.now(UTC)
        with self._sessions() as session:
            candidates = webhook_queue.due(session, now, limit=free * 4)
        chosen: list[webhook_queue.Due] = []
        for row in candidates:
            if len(chosen) >= free or load[row.subscription_id] >= self._per_subscription:
                continue
            load[row.subscription_id] += 1
            chosen.append(row)
        if not chosen:
            return 0
        # Those another process took meanwhile, or no longer due, are left out.
        taken = attempts.claim_attempts(self._sessions, chosen, now, self._lease)
        for claimed in taken:
            with self._lock:
                self._in_flight[claimed.subscription_id] += 1
            self._pool.submit(self._post, claimed)
        return len(taken)

    def _post(self, claimed: attempts.LeasedAttempt) -> None:
        with attempt_span(claimed) as span:
            try:
                outcome = self._sender.send(claimed)
            except Exception as err:  # a bug, not the receiver: recorded as the attempt's error
                log.exception("webhook %s: sending failed", claimed.webhook_id)
                outcome = attempts.Outcome(None, 0.0, f"{type(err).__name__}: {err}")
            if outcome.status_code is not None:
                span.set_attribute("http.status_code", outcome.status_code)
        self._answers.put((claimed, outcome))

    def _settle(self) -> None:
        """Settle answers in batches (one transaction for all that came meanwhile), until
        `stop` has let every POST under way finish and sent None."""
        done = False
        while not done:
            batch = [self._answers.get()]
            while len(batch) < SETTLE_BATCH and not self._answers.empty():
                batch.append(self._answers.get_nowait())
            if None in batch:
                done = True
            answered = [item for item in batch if item is not None]
            if answered:
                self._settle_batch(answered)

    def _settle_batch(
        self, answered: list[tuple[attempts.LeasedAttempt, attempts.Outcome]]
    ) -> None:
        now = datetime.now(UTC)
        channel = self._settings.notify_default_channel
        try:
            states = attempts.settle_attempts(self._sessions, answered, self._backoff, now, channel)
        except Exception:  # one by one, so that one bad answer does not hold up the others
            log.exception("settling %d webhook attempts together failed", len(answered))
            states = []
            for claimed, outcome in answered:
                try:
                    states.append(
                        attempts.settle_attempt(
                            self._sessions, claimed, outcome, self._backoff, now, channel
                        )
                    )
                except Exception:  # its lease runs out and it is tried again
                    log.exception("webhook %s: settling failed", claimed.webhook_id)
                    states.append(None)
        for (claimed, outcome), state in zip(answered, states, strict=True):
            if state is not None:
                count_settled(claimed, state, now)
            if state is not None and not outcome.ok:
                log.warning(
                    "webhook %s to subscription %s: %s (now %s)",
                    claimed.webhook_id,
                    claimed.subscription_id,
                    outcome.error,
                    state.value,
                )
        with self._lock:
            for claimed, _ in answered:
                self._in_flight[claimed.subscription_id] -= 1
        self._wake.set()


def attempt_span(claimed: attempts.LeasedAttempt) -> AbstractContextManager[Span]:
    """A webhook POST, as a child of the span that published its event (the publishing
    activity's). Ids and kinds only: never the receiver's URL or the event's content."""
    return consumer_span(
        _TRACER,
        "deliver webhook",
        traceparent=claimed.traceparent,
        attributes={
            "ticketflow.webhook.subscription": claimed.subscription_id,
            "ticketflow.webhook.id": claimed.webhook_id,
            "ticketflow.webhook.attempt": claimed.attempts,
            "ticketflow.ticket": claimed.ticket,
        },
    )


def count_settled(claimed: attempts.LeasedAttempt, state: DeliveryState, now: datetime) -> None:
    """An answered POST by what it made of its delivery; a delivered one's lag from its event."""
    metrics.WEBHOOK_ATTEMPTS.labels(outcome=state.value).inc()
    at = claimed.event.get("at")
    if state is DeliveryState.DELIVERED and isinstance(at, str):
        lag = (now - datetime.fromisoformat(at)).total_seconds()
        metrics.WEBHOOK_LAG.observe(max(0.0, lag))
