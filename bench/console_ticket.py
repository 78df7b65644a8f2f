"""The console's ticket page with a long thread, beside the API read it wraps and beside every
API call it makes (bench.console runs it)."""

import uuid
from typing import Any

import httpx

from bench.run import published
from bench.stack import (
    JANE,
    JANE_TOKEN,
    Op,
    alternating,
    bearer,
    console_session,
    percentiles,
    ratio,
)
from bench.web import add_messages, open_ticket, thread_of
from services.devstack import Stack
from services.web.api import IntakeApi
from services.web.console.ticket_data import load

TICKETS = "/api/v1/tickets"
ENTRY = '<li class="entry '  # one per message of the thread the page shows
ALONE = 20  # rounds of the page's calls one by one


def ticket_ops(web: httpx.AsyncClient, api: httpx.AsyncClient, number: str) -> dict[str, Op]:
    """The page through the console; the ticket read (its thread in it); all the API calls
    the page makes, made by the console's own code here (who is signed in, then `load`: the
    ticket, its timeline, the help topics and the directory at once, then the requester's
    other tickets)."""
    console_api = IntakeApi(api)

    async def page() -> None:
        answer = await web.get(f"/agent/tickets/{number}")
        if answer.status_code != 200 or ENTRY not in answer.text:
            raise RuntimeError(f"ticket page: {answer.status_code}")

    async def read() -> None:
        (await api.get(f"{TICKETS}/{number}", headers=bearer(JANE_TOKEN))).raise_for_status()

    async def calls() -> None:
        await page_calls(console_api, number)

    return {"page": page, "ticket_read": read, "page_calls": calls}


async def page_calls(api: IntakeApi, number: str) -> None:
    await api.call("GET", "/api/v1/auth/me", credential=JANE_TOKEN)
    loaded = await load(api, JANE, number)
    if loaded.timeline is None or loaded.others is None:
        raise RuntimeError("the ticket page would miss its timeline or the requester's tickets")


async def each_call(api: httpx.AsyncClient, number: str) -> dict[str, Op]:
    """Each of the API calls the page makes (as the console's code makes them once, seen
    going out), alone: where the page's time goes."""
    made: list[httpx.URL] = []

    async def seen(request: httpx.Request) -> None:
        made.append(request.url)

    async with httpx.AsyncClient(
        base_url=api.base_url, timeout=60, event_hooks={"request": [seen]}
    ) as watched:
        await page_calls(IntakeApi(watched), number)

    def op(url: httpx.URL) -> Op:
        async def call() -> None:
            (await api.get(url, headers=bearer(JANE_TOKEN))).raise_for_status()

        return call

    named = {
        str(url.copy_with(scheme=None, netloc=None)).replace(number, "{n}"): url for url in made
    }
    return {name: op(url) for name, url in named.items()}


async def ticket_page(stack: Stack, secret: str, messages: int, samples: int) -> dict[str, Any]:
    """A ticket of `messages` messages (the requester's first, then Jane's responses and the
    requester's replies in turn, then Jane's alone: as bench.web makes its long thread), its
    page `samples` times beside the read and the calls."""
    subject = f"console thread {uuid.uuid4().hex[:6]}"
    async with (
        httpx.AsyncClient(base_url=stack.web_url, timeout=60) as web,
        httpx.AsyncClient(base_url=stack.intake_url, timeout=60) as api,
    ):
        ticket = await open_ticket(api, secret, subject)
        await published(stack, subject, 1, timeout=60)
        await add_messages(api, ticket, messages - 1)
        await thread_of(api, ticket, messages, timeout=120)
        console_session(web, JANE_TOKEN)
        shown = (await web.get(f"/agent/tickets/{ticket.number}")).text.count(ENTRY)
        if shown != messages:
            raise RuntimeError(f"the page shows {shown} messages, not {messages}")
        ops = ticket_ops(web, api, ticket.number)
        await alternating(3, ops)  # warm up
        taken = await alternating(samples, ops)
        read = await api.get(f"{TICKETS}/{ticket.number}", headers=bearer(JANE_TOKEN))
        alone = await alternating(ALONE, await each_call(api, ticket.number))
        size = len((await web.get(f"/agent/tickets/{ticket.number}")).content)
    figures = {kind: percentiles(values, 0.5, 0.99) for kind, values in taken.items()}
    return {
        "messages": messages,
        "samples": samples,
        **figures,
        "ratio_p50": ratio(figures["page"], figures["ticket_read"]),
        "ratio_p50_to_page_calls": ratio(figures["page"], figures["page_calls"]),
        "calls_alone_p50": {name: percentiles(ms, 0.5)["p50"] for name, ms in alone.items()},
        "page_bytes": size,
        "read_bytes": len(read.content),
    }
