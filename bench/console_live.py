"""The console's live updates: how soon a change reaches another agent's open `/agent/live`
stream, and what idle streams cost the web and intake processes (bench.console runs it)."""

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from bench.escalation import rss_mib
from bench.stack import JANE_TOKEN, JOHN_TOKEN, bearer, console_session, cpu_seconds, percentiles
from services.devstack import Stack
from tests.processes import family


def ms(seconds: float) -> float:
    return seconds * 1000


# Live latency.


@dataclass
class Stream:
    """One open `/agent/live` stream, read into `arrived` (ticket -> the times its changes
    arrived) by a task of its own."""

    response: httpx.Response
    arrived: dict[str, list[float]]
    opened: asyncio.Event


async def follow(response: httpx.Response, stream: Stream) -> None:
    data = ""
    with contextlib.suppress(httpx.HTTPError):
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                data = line.removeprefix("data: ")
            elif line == "":
                stream.opened.set()
                if data:
                    change = json.loads(data)
                    stream.arrived.setdefault(change["ticket"], []).append(time.perf_counter())
                data = ""


@contextlib.asynccontextmanager
async def live_stream(client: httpx.AsyncClient) -> AsyncIterator[Stream]:
    async with client.stream(
        "GET", "/agent/live", headers={"Accept": "text/event-stream"}
    ) as response:
        if response.status_code != 200:
            raise RuntimeError(f"/agent/live answered {response.status_code}")
        stream = Stream(response, {}, asyncio.Event())
        reader = asyncio.create_task(follow(response, stream))
        try:
            await asyncio.wait_for(stream.opened.wait(), 30)
            yield stream
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def live_latency(stack: Stack, samples: int) -> dict[str, Any]:
    """From the command's 200 to the change on the stream (below 0 when the change came
    first), and from the command sent, beside the command's own round trip."""
    jane = bearer(JANE_TOKEN)
    async with (
        httpx.AsyncClient(base_url=stack.intake_url, timeout=60) as api,
        httpx.AsyncClient(base_url=stack.web_url, timeout=httpx.Timeout(60, read=120)) as web,
    ):
        numbers = []
        for i in range(4):
            created = await api.post(
                "/api/v1/tickets",
                json={
                    "requester": {"name": "Alice", "email": "alice@example.com"},
                    "subject": f"Live latency {i}",
                    "message": "Online banking is down.",
                    "help_topic": "online-banking",
                },
            )
            created.raise_for_status()
            numbers.append(created.json()["number"])
        await asyncio.sleep(2)  # their creation is published before the first sample
        console_session(web, JOHN_TOKEN)
        took: list[float] = []
        from_sent: list[float] = []
        commands: list[float] = []
        async with live_stream(web) as stream:
            for i in range(samples):
                number = numbers[i % len(numbers)]
                before = len(stream.arrived.get(number, []))
                priority = "emergency" if (i // len(numbers)) % 2 == 0 else "low"
                sent = time.perf_counter()
                answer = await api.post(
                    f"/api/v1/tickets/{number}/priority",
                    json={"priority": priority},
                    headers={**jane, "Idempotency-Key": uuid.uuid4().hex},
                )
                answered = time.perf_counter()
                answer.raise_for_status()
                deadline = answered + 10
                while len(stream.arrived.get(number, [])) <= before:
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"ticket {number}'s change did not arrive in 10 s")
                    await asyncio.sleep(0.002)
                arrived = stream.arrived[number][before]
                took.append(ms(arrived - answered))
                from_sent.append(ms(arrived - sent))
                commands.append(ms(answered - sent))
                await asyncio.sleep(0.2)
    return {
        "samples": len(took),
        "ms": percentiles(took, 0.5, 0.95, 1.0),
        "from_sent_ms": percentiles(from_sent, 0.5, 0.95, 1.0),
        "command_ms": percentiles(commands, 0.5, 0.95, 1.0),
    }


# Idle connections.


async def idle_connections(stack: Stack, count: int, seconds: float) -> dict[str, Any]:
    web_pid, intake_pid = stack.procs["web"].pid, stack.procs["intake"].pid
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
    timeout = httpx.Timeout(60, read=None)
    async with httpx.AsyncClient(base_url=stack.web_url, limits=limits, timeout=timeout) as web:
        console_session(web, JANE_TOKEN)
        # One connection first: what any first stream starts (the watch, the client) is not
        # counted per connection.
        async with contextlib.AsyncExitStack() as streams:
            await streams.enter_async_context(live_stream(web))
            await asyncio.sleep(2)
            before = {"web": rss_mib(web_pid), "intake": rss_mib(intake_pid)}
            gate = asyncio.Semaphore(50)

            async def open_one() -> None:
                async with gate:
                    await streams.enter_async_context(live_stream(web))

            started = time.perf_counter()
            await asyncio.gather(*(open_one() for _ in range(count - 1)))
            opened_s = time.perf_counter() - started
            await asyncio.sleep(5)  # settled
            after = {"web": rss_mib(web_pid), "intake": rss_mib(intake_pid)}
            cpu_before = {
                "web": cpu_seconds(family(web_pid)),
                "intake": cpu_seconds(family(intake_pid)),
            }
            wall = time.perf_counter()
            await asyncio.sleep(seconds)
            wall = time.perf_counter() - wall
            cpu_after = {
                "web": cpu_seconds(family(web_pid)),
                "intake": cpu_seconds(family(intake_pid)),
            }
    return {
        "connections": count,
        "opened_in_s": opened_s,
        "idle_seconds": wall,
        "cpu_percent_of_a_core": {
            name: 100 * (cpu_after[name] - cpu_before[name]) / wall for name in cpu_after
        },
        "rss_mib_before": before,
        "rss_mib_after": after,
        "kib_per_connection": {
            name: (after[name] - before[name]) * 1024 / (count - 1) for name in after
        },
    }
