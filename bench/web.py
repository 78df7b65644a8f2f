"""The requester portal beside the API it wraps, on a real stack started for the run: p50/p95
of the ticket page (a thread of 2 and of 50 messages) beside GET /api/v1/tickets/{n}, and of
a reply posted through the portal's form beside the API's JSON reply, each pair taken in
alternating rounds so that machine noise weighs on both alike; then the weight of the ticket
page with 50 messages and the requests it makes (the page, and the same-origin subresources
it links, fetched as its HTML names them; and, where Debian's Chromium and Playwright are
there, as a browser loads it).

The portal is signed in as a requester would be: a link credential minted under the stack's
SECRET_KEY, opened once at /t/{n}?k=… by a client that keeps the cookie. The API calls use
the same credential as bearer; the API's reply carries an Idempotency-Key, as the portal's
does. The figures are the ratios of the portal's p50 to the API's.

`python -m bench.web [--samples 200] [--warmup 20] [--database sqlite|postgresql]`
"""

import argparse
import asyncio
import gzip
import json
import os
import re
import secrets
import shutil
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from bench.load import database, rounded
from bench.run import JANE, interleaved, pct, published
from services.devstack import Stack
from shared.access import new_link_credential
from shared.domain.lifecycle import REQUESTER_MESSAGES_PER_MINUTE

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
TARGET, GOAL = 1.5, 1.2
THREAD = 50  # messages of the long ticket, its first one included
# A requester may send REQUESTER_MESSAGES_PER_MINUTE replies a minute to a ticket: the reply
# rounds (one through the portal, one through the API) move to a fresh ticket before that.
REPLY_ROUNDS_PER_TICKET = REQUESTER_MESSAGES_PER_MINUTE // 2
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)")
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@dataclass
class Ticket:
    number: str
    credential: str  # a link credential, as the portal's mails carry

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credential}"}


@dataclass
class Clients:
    api: httpx.AsyncClient
    web: httpx.AsyncClient  # keeps the portal's session cookie, follows no redirect
    csrf: str = ""


# Seeding.


async def open_ticket(api: httpx.AsyncClient, secret: str, subject: str) -> Ticket:
    answer = await api.post(
        "/api/v1/tickets",
        json={
            "requester": {"name": "Alice Customer", "email": "alice@example.com"},
            "subject": subject,
            "message": "I cannot log in to online banking since this morning.",
            "help_topic": "online-banking",
        },
    )
    answer.raise_for_status()
    number = answer.json()["number"]
    now = datetime.now(UTC)
    return Ticket(number, new_link_credential(secret, number, now=now, lifetime=timedelta(days=1)))


async def add_messages(api: httpx.AsyncClient, ticket: Ticket, count: int) -> None:
    """`count` messages after the first: Jane's responses and the requester's replies in turn,
    then Jane's alone once the requester has sent as many as a minute allows."""
    (
        await api.post(
            f"/api/v1/tickets/{ticket.number}/assign", json={"agent": "jane"}, headers=JANE
        )
    ).raise_for_status()
    for i in range(count):
        alice = i % 2 == 1 and i // 2 < REQUESTER_MESSAGES_PER_MINUTE
        headers, who = (ticket.bearer, "Alice") if alice else (JANE, "Jane")
        body = {"message": f"{who}, message {i + 2}: " + "the login page still fails. " * 8}
        answer = await api.post(
            f"/api/v1/tickets/{ticket.number}/replies", json=body, headers=headers
        )
        answer.raise_for_status()


async def thread_of(
    api: httpx.AsyncClient, ticket: Ticket, length: int, timeout: float = 60
) -> None:
    """Wait until the API shows the ticket's thread with `length` messages (the worker writes
    it after each command is answered)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = await api.get(f"/api/v1/tickets/{ticket.number}", headers=ticket.bearer)
        if answer.status_code == 200 and len(answer.json().get("thread") or []) >= length:
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"ticket {ticket.number}: fewer than {length} messages after {timeout}s")


async def sign_in(clients: Clients, ticket: Ticket) -> None:
    """A fresh browser session for `ticket` alone: the mailed link opened once (the portal
    checks it with the API and sets its cookie), then the page for its CSRF token."""
    clients.web.cookies.clear()
    answer = await clients.web.get(f"/t/{ticket.number}", params={"k": ticket.credential})
    if answer.status_code != 303 or "tf_portal" not in clients.web.cookies:
        raise RuntimeError(f"the link did not sign in: {answer.status_code} {answer.text[:200]}")
    page = await clients.web.get(f"/tickets/{ticket.number}")
    page.raise_for_status()
    found = _CSRF.search(page.text)
    if found is None:
        raise RuntimeError("the ticket page carries no CSRF token")
    clients.csrf = found.group(1)


# The operations, each raising unless answered as the portal or the API should.

Op = Callable[[int], Awaitable[None]]


def page_ops(clients: Clients, ticket: Ticket) -> tuple[Op, Op]:
    async def web(_: int) -> None:
        answer = await clients.web.get(f"/tickets/{ticket.number}")
        if answer.status_code != 200 or 'class="thread"' not in answer.text:
            raise RuntimeError(f"ticket page: {answer.status_code}")

    async def api(_: int) -> None:
        answer = await clients.api.get(f"/api/v1/tickets/{ticket.number}", headers=ticket.bearer)
        answer.raise_for_status()

    return web, api


def browser_form(fields: dict[str, str]) -> tuple[bytes, str]:
    """The reply form as a browser posts it (multipart, its file input left empty: a part with
    an empty filename, which httpx's `files=` would not write)."""
    boundary = f"----bench{secrets.token_hex(8)}"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename=""\r\n'
        "Content-Type: application/octet-stream\r\n\r\n\r\n"
    )
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


def reply_ops(clients: Clients, ticket: Ticket) -> tuple[Op, Op]:
    async def web(i: int) -> None:
        body, content_type = browser_form(
            {
                "csrf_token": clients.csrf,
                "form_key": secrets.token_urlsafe(24),  # what a freshly rendered form holds
                "message": f"Portal reply {i}: it still fails.",
            }
        )
        answer = await clients.web.post(
            f"/tickets/{ticket.number}/replies",
            content=body,
            headers={"Content-Type": content_type},
        )
        if answer.status_code != 303:
            raise RuntimeError(f"portal reply: {answer.status_code} {answer.text[:300]}")

    async def api(i: int) -> None:
        answer = await clients.api.post(
            f"/api/v1/tickets/{ticket.number}/replies",
            json={"message": f"API reply {i}: it still fails."},
            headers={**ticket.bearer, "Idempotency-Key": f"bench-{uuid.uuid4().hex}"},
        )
        answer.raise_for_status()

    return web, api


async def pair(
    clients: Clients,
    tickets: list[Ticket],
    make_ops: Callable[[Clients, Ticket], tuple[Op, Op]],
    args: argparse.Namespace,
) -> dict[str, float]:
    """The portal's and the API's latencies in alternating rounds, spread evenly over
    `tickets` (signed in for each before its rounds, untimed); the first `--warmup` rounds
    are left out."""
    rounds = args.warmup + args.samples
    per_ticket = -(-rounds // len(tickets))
    web_ms: list[float] = []
    api_ms: list[float] = []
    for ticket in tickets:
        await sign_in(clients, ticket)
        web, api = make_ops(clients, ticket)
        took = await interleaved(min(per_ticket, rounds - len(web_ms)), web, api)
        web_ms += took[0]
        api_ms += took[1]
    web_ms, api_ms = web_ms[args.warmup :], api_ms[args.warmup :]
    return {
        "web_p50_ms": statistics.median(web_ms),
        "web_p95_ms": pct(web_ms, 95),
        "api_p50_ms": statistics.median(api_ms),
        "api_p95_ms": pct(api_ms, 95),
        "p50_ratio": statistics.median(web_ms) / statistics.median(api_ms),
    }


# The page's weight.


class Subresources(HTMLParser):
    """What the page makes a browser fetch: <link href>, <script src>, <img src>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"link": "href", "script": "src", "img": "src"}.get(tag)
        value = dict(attrs).get(wanted or "")
        if value:
            self.urls.append(value)


async def weigh(web: httpx.AsyncClient, path: str) -> dict[str, Any]:
    """The page and each same-origin subresource it (or a stylesheet of it) names, once: the
    requests a first visit makes, and their bodies' bytes as sent (and gzipped, for scale)."""
    origin = urlsplit(str(web.base_url)).netloc
    queue, seen = [str(web.base_url.join(path))], set()
    items: list[dict[str, Any]] = []
    elsewhere: list[str] = []  # none expected: the CSP allows none
    while queue:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        if urlsplit(url).netloc != origin:
            elsewhere.append(url)
            continue
        answer = await web.get(url)
        answer.raise_for_status()
        kind = answer.headers.get("content-type", "").split(";")[0]
        items.append(
            {
                "url": urlsplit(url).path,
                "kind": kind,
                "bytes": len(answer.content),
                "gzip_bytes": len(gzip.compress(answer.content)),
                "encoding": answer.headers.get("content-encoding", "identity"),
            }
        )
        if kind == "text/html":
            parser = Subresources()
            parser.feed(answer.text)
            queue += [urljoin(url, found) for found in parser.urls]
        elif kind == "text/css":
            queue += [urljoin(url, found) for found in _CSS_URL.findall(answer.text)]
    return {
        "requests": len(items),
        "bytes": sum(item["bytes"] for item in items),
        "gzip_bytes": sum(item["gzip_bytes"] for item in items),
        "encodings": sorted({item["encoding"] for item in items}),
        "items": items,
        "other_origins": elsewhere,
    }


async def in_browser(web: httpx.AsyncClient, path: str) -> dict[str, Any] | None:
    """Requests and bytes as Chromium loads the page (a fresh profile with the session's
    cookie); None without Playwright or Debian's Chromium."""
    try:
        from playwright.async_api import Request, async_playwright
    except ImportError:
        return None
    if not CHROMIUM.exists():
        return None
    finished: list[Request] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        try:
            context = await browser.new_context()
            cookie = web.cookies["tf_portal"]
            await context.add_cookies(
                [{"name": "tf_portal", "value": cookie, "url": str(web.base_url)}]
            )
            page = await context.new_page()

            def done(request: Request) -> None:  # Playwright takes no bound builtin
                finished.append(request)

            page.on("requestfinished", done)
            answer = await page.goto(str(web.base_url.join(path)), wait_until="networkidle")
            if answer is None or answer.status != 200:
                raise RuntimeError("the browser did not get the ticket page")
            items = []
            for request in finished:
                sizes = await request.sizes()
                items.append(
                    {
                        "url": urlsplit(request.url).path,
                        "body_bytes": sizes["responseBodySize"],
                        "header_bytes": sizes["responseHeadersSize"],
                    }
                )
        finally:
            await browser.close()
    return {
        "requests": len(items),
        "bytes": sum(item["body_bytes"] for item in items),
        "header_bytes": sum(item["header_bytes"] for item in items),
        "items": items,
    }


# The run.


async def measure(stack: Stack, secret: str, args: argparse.Namespace) -> dict[str, Any]:
    run = uuid.uuid4().hex[:6]
    async with (
        httpx.AsyncClient(base_url=stack.intake_url, timeout=30) as api,
        httpx.AsyncClient(base_url=stack.web_url, timeout=30, follow_redirects=False) as web,
    ):
        clients = Clients(api, web)
        replied = -(-(args.warmup + args.samples) // REPLY_ROUNDS_PER_TICKET)
        names = ["short", "long", *(f"reply {i}" for i in range(replied))]
        tickets = [await open_ticket(api, secret, f"web {run} {name}") for name in names]
        short, long, for_replies = tickets[0], tickets[1], tickets[2:]
        await published(stack, f"web {run} ", len(tickets), timeout=60)
        await add_messages(api, short, 1)
        await add_messages(api, long, THREAD - 1)
        await thread_of(api, short, 2)
        await thread_of(api, long, THREAD)
        print(f"  ... seeded {len(tickets)} tickets", flush=True)
        results: dict[str, Any] = {}
        results["page_2"] = await pair(clients, [short], page_ops, args)
        results["reply"] = await pair(clients, for_replies, reply_ops, args)
        results[f"page_{THREAD}"] = await pair(clients, [long], page_ops, args)
        print("  ... pages and replies measured", flush=True)
        path = f"/tickets/{long.number}"  # the session is signed in for it, last
        results["weight"] = await weigh(web, path)
        results["browser"] = None if args.no_browser else await in_browser(web, path)
    return results


def run_stack(args: argparse.Namespace) -> dict[str, Any]:
    var: Path = (args.var / args.database).resolve()
    shutil.rmtree(var, ignore_errors=True)  # a fresh stack each run; logs stay for reading
    var.mkdir(parents=True)
    secret = secrets.token_hex(32)
    started = time.monotonic()
    with database(args.database, args.database_url, var) as url:
        stack = Stack.on_free_ports(
            var,
            url,
            temporal_db=str(var / "temporal.db"),
            worker_processes=args.worker_processes,
            extra_env={"SECRET_KEY": secret, "TEMPORAL_TASK_QUEUE": f"web-{uuid.uuid4().hex[:6]}"},
        )
        try:
            stack.start_temporal()
            stack.migrate_and_load(ROOT / "config" / "demo.yaml")
            stack.start_services()
            print(
                f"{args.database}: stack started in {time.monotonic() - started:.0f} s", flush=True
            )
            results = asyncio.run(measure(stack, secret, args))
        finally:
            stack.stop()
    results["elapsed_s"] = time.monotonic() - started
    return results


def kb(n: int) -> str:
    return f"{n / 1024:.1f} KB"


def verdict(ratio: float) -> str:
    return "goal met" if ratio <= GOAL else "within target" if ratio <= TARGET else "OVER target"


def report(results: dict[str, Any], args: argparse.Namespace) -> list[str]:
    lines = [
        f"database: {args.database}; {args.samples} rounds per pair, web and API alternating "
        f"(after {args.warmup} warm-up rounds); this process on the same {os.cpu_count()} cores",
        f"  {'':<28}{'web p50':>9}{'p95':>8}{'API p50':>10}{'p95':>8}{'ratio p50':>11}",
    ]
    rows = (
        ("page_2", "ticket page, 2 messages"),
        (f"page_{THREAD}", f"ticket page, {THREAD} messages"),
        ("reply", "reply post (303 vs 200)"),
    )
    for key, label in rows:
        r = results[key]
        lines.append(
            f"  {label:<28}{r['web_p50_ms']:9.1f}{r['web_p95_ms']:8.1f}{r['api_p50_ms']:10.1f}"
            f"{r['api_p95_ms']:8.1f}{r['p50_ratio']:10.2f}x  {verdict(r['p50_ratio'])}"
        )
    lines.append(f"  (ms; target web/API p50 <= {TARGET}x, goal {GOAL}x)")
    weight = results["weight"]
    lines.append(
        f"  ticket page with {THREAD} messages, fetched as its HTML names them: "
        f"{weight['requests']} requests, {kb(weight['bytes'])} "
        f"(sent as {'/'.join(weight['encodings'])}; {kb(weight['gzip_bytes'])} if gzipped)"
    )
    for item in weight["items"]:
        lines.append(f"    {item['url']:<40}{item['kind']:<26}{kb(item['bytes']):>10}")
    if weight["other_origins"]:
        lines.append(f"    OTHER ORIGINS: {', '.join(weight['other_origins'])}")
    browser = results["browser"]
    if browser is None:
        lines.append(
            "  in Chromium: not measured (no Playwright, no /usr/bin/chromium, or --no-browser)"
        )
    else:
        lines.append(
            f"  in Chromium (Playwright, fresh profile): {browser['requests']} requests, "
            f"{kb(browser['bytes'])} of bodies + {kb(browser['header_bytes'])} of headers: "
            + ", ".join(item["url"] for item in browser["items"])
        )
    lines.append(f"  {results['elapsed_s']:.0f} s in all")
    return lines


def summary(results: dict[str, Any]) -> str:
    page_2, page_n, reply = results["page_2"], results[f"page_{THREAD}"], results["reply"]
    weight = results["weight"]
    return (
        f"web/API p50: page {page_2['p50_ratio']:.2f}x (2 messages), "
        f"{page_n['p50_ratio']:.2f}x ({THREAD}); reply {reply['p50_ratio']:.2f}x; "
        f"page with {THREAD} messages {kb(weight['bytes'])} in {weight['requests']} requests"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=200, help="rounds per pair (web, API)")
    parser.add_argument("--warmup", type=int, default=20, help="rounds per pair, not counted")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--database-url",
        default=None,
        help="PostgreSQL to use (default: a throw-away database at 127.0.0.1:5432, as tests)",
    )
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes, as make run starts them (default: all cores)",
    )
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium load")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "web.json")
    parser.add_argument("--var", type=Path, default=ROOT / "var" / "bench" / "web-stack")
    args = parser.parse_args()
    results = rounded(run_stack(args))
    print("\n".join(report(results, args)))
    print(summary(results), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    saved = {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}
    args.out.write_text(json.dumps({"args": saved, **results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
