"""ticketflow with and without payload encryption side by side, for `bench.run`: one Temporal
server and one database, and for each variant a worker and an intake of its own (its own
ENCRYPTION_KEYS, or none, and its own task queue). Ticket numbers come from the one database,
so the two never share a workflow id; each ticket is created, commanded and run by one variant.
"""

import dataclasses
import sys
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload

from services.devstack import Stack
from services.processes import StopSignals, free_port, wait_healthy
from shared.crypto.key_ring import new_entry
from shared.temporal.codec import ENCODING
from tests.processes import Proc, family, kill_all, wait_gone

PLAIN, ENCRYPTED = "plain", "encrypted"
VARIANTS = (PLAIN, ENCRYPTED)


def plain_env(name: str) -> dict[str, str]:
    """The plain stack's environment: no ENCRYPTION_KEYS even if the caller's has one."""
    return {"TEMPORAL_TASK_QUEUE": f"{name}-{uuid.uuid4().hex[:6]}", "ENCRYPTION_KEYS": ""}


def encrypted_twin(stack: Stack, extra_env: dict[str, str]) -> Stack:
    """`stack`'s Temporal, database, notify and mail sink, with an intake and a worker of
    its own (start them with `start_twin`) that encrypt under a fresh key."""
    metrics = stack.worker_metrics_port is not None
    return dataclasses.replace(
        stack,
        var=stack.var / ENCRYPTED,
        intake_port=free_port(),
        web_port=free_port(),
        mail_in_port=free_port(),
        worker_metrics_port=free_port() if metrics else None,
        worker_sdk_metrics_port=free_port() if metrics else None,
        extra_env={
            "TEMPORAL_TASK_QUEUE": f"{ENCRYPTED}-{uuid.uuid4().hex[:6]}",
            "ENCRYPTION_KEYS": new_entry("bench-1"),
            **extra_env,
        },
        procs={},
    )


def start_twin(twin: Stack) -> None:
    """Only the services that talk to Temporal for the bench: the others are `stack`'s."""
    twin.start_worker()
    # devstack starts intake only with the whole set of services (start_services).
    twin._ticketflow("intake", "intake")
    wait_healthy(f"{twin.intake_url}/healthz", proc=twin.procs["intake"])


@contextmanager
def stopped_checked(*stacks: Stack) -> Iterator[None]:
    """Stop `stacks` in this order on the way out, then check every process they started
    gone (SIGKILL, and say so, to any left). SIGINT, SIGTERM or SIGHUP (a timeout's, say)
    raise `Stopping` meanwhile, so that this cleanup runs; a second one is absorbed."""
    seen: set[Proc] = set()
    signals = StopSignals()
    try:
        yield
    finally:
        signals.absorb()
        for stack in stacks:
            for proc in stack.procs.values():
                seen |= family(proc.pid)
        for stack in stacks:
            stack.stop()
        survivors = wait_gone(seen, timeout=10)
        kill_all(survivors)
        if survivors:
            print(f"SURVIVED the stop, killed: {sorted(survivors, key=str)}", file=sys.stderr)


def payload_sizes(events: Sequence[Message]) -> dict[str, float]:
    """The payloads in a history: how many, how many encrypted, their serialized bytes."""
    found = [p for event in events for p in _payloads(event)]
    return {
        "payloads": len(found),
        "payloads_encrypted": sum(p.metadata.get("encoding") == ENCODING for p in found),
        "payload_kb": sum(p.ByteSize() for p in found) / 1024,
    }


def _payloads(message: Message) -> Iterator[Payload]:
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        kind = field.message_type
        if kind is None:
            continue
        items: Iterable[Message]
        if kind.GetOptions().map_entry:  # only maps of messages hold payloads (memo, header)
            items = value.values() if kind.fields_by_name["value"].message_type else ()
        else:
            items = (value,) if isinstance(value, Message) else value
        for item in items:
            yield from _payloads(item)
