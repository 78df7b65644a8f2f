"""Webhook subscriptions' rules: which events a subscription gets, the ids its deliveries
carry, and when a failed delivery is tried again. Pure: no I/O."""

import random
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.domain.events import EventType


class DeliveryState(StrEnum):
    PENDING = "pending"  # waiting for its turn (the ticket's older events) or its retry time
    SENDING = "sending"  # claimed by a delivery loop; taken over when its lease runs out
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # retried until the give-up time without a 2xx


OPEN_STATES = (DeliveryState.PENDING.value, DeliveryState.SENDING.value)


@dataclass(frozen=True)
class EventFilter:
    """Empty collections mean "all"; internal events (notes) only where asked for."""

    event_types: frozenset[EventType] = frozenset()
    departments: frozenset[str] = frozenset()
    help_topics: frozenset[str] = frozenset()
    include_internal: bool = False

    @classmethod
    def of(
        cls,
        event_types: Collection[str],
        departments: Collection[str],
        help_topics: Collection[str],
        include_internal: bool,
    ) -> "EventFilter":
        return cls(
            frozenset(EventType(t) for t in event_types),
            frozenset(departments),
            frozenset(help_topics),
            include_internal,
        )

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether `event` (as the change feed serves it) is for this subscription."""
        if event["internal"] and not self.include_internal:
            return False
        if self.event_types and event["type"] not in self.event_types:
            return False
        snapshot = event["snapshot"]
        if self.departments and snapshot["department"] not in self.departments:
            return False
        return not self.help_topics or snapshot["help_topic"] in self.help_topics


def webhook_id(subscription_id: int, event_id: str, replay: str | None = None) -> str:
    """The `webhook-id` of a delivery: the same at every attempt of it, whoever makes it.

    The feed's delivery of an event is `msg_<subscription>_<event>`; a replay is a new message
    for the same event (`…_r<the replay's token>`), so a receiver that drops duplicate ids
    processes it again; the body's `id` stays the event's id, to deduplicate on if preferred.
    """
    base = f"msg_{subscription_id}_{event_id}"
    return base if replay is None else f"{base}_r{replay}"


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: the n-th retry waits base * 2^(n-1), at most `cap`,
    scaled by a random factor in [1 - jitter, 1]; nothing is tried after `give_up` from the
    first attempt, and the last retry is at that moment."""

    base: timedelta
    cap: timedelta
    give_up: timedelta
    jitter: float = 0.5

    def delay(self, attempts: int, draw: Callable[[], float] = random.random) -> timedelta:
        """How long to wait after the `attempts`-th failed attempt (1 for the first)."""
        exponent = min(max(attempts - 1, 0), 40)
        full = min(self.base * (2**exponent), self.cap)
        return timedelta(seconds=full.total_seconds() * (1 - self.jitter * draw()))

    def next_attempt(
        self,
        attempts: int,
        first_attempt: datetime,
        now: datetime,
        draw: Callable[[], float] = random.random,
    ) -> datetime | None:
        """When to try again after a failed attempt, or None: give up."""
        deadline = first_attempt + self.give_up
        if now >= deadline:
            return None
        return min(now + self.delay(attempts, draw), deadline)
