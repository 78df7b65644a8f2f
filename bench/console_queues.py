"""The console's queue page on a seeded projection, beside the list API call it wraps and
beside every API call it makes (bench.console runs it)."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, text

from bench.reports import copy_rows
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
from services.devstack import Stack
from services.web.api import IntakeApi
from services.web.console.queue_page import PER_PAGE, gather_page
from services.web.console.queue_views import QueueQuery, View, list_params
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.projection import ticket_row
from shared.db.tables import TicketRow
from shared.domain import lifecycle
from shared.domain.enums import Priority, TicketStatus
from shared.domain.models import Person
from tests.builders import new_input

FIRST = 200_000  # the seeded tickets' numbers start here, clear of the API's
TICKETS = "/api/v1/tickets"


def seeded_rows(open_tickets: int) -> list[dict[str, Any]]:
    """`open_tickets` open and pending tickets, a tenth as many resolved and as many closed,
    as the workflow's publish step writes them (one real state, varied; about five tickets
    per requester)."""
    rng = random.Random(20261207)
    now = datetime.now(UTC)
    template, _ = lifecycle.open_ticket(new_input("100000"), now)
    finished = open_tickets // 10
    statuses = (
        [TicketStatus.OPEN] * (open_tickets - open_tickets // 5)
        + [TicketStatus.PENDING] * (open_tickets // 5)
        + [TicketStatus.RESOLVED] * finished
        + [TicketStatus.CLOSED] * finished
    )
    requesters = max(1, len(statuses) // 5)
    rows: list[dict[str, Any]] = []
    for i, status in enumerate(statuses):
        created = now - timedelta(minutes=rng.randint(5, 30 * 24 * 60))
        running = status in (TicketStatus.OPEN, TicketStatus.PENDING)
        due = now + timedelta(minutes=rng.randint(-60, 3 * 24 * 60))
        who = rng.randrange(requesters)
        # A shallow copy: only top-level fields change, the nested ones stay the template's.
        state = template.model_copy(
            update={
                "number": str(FIRST + i),
                "subject": f"Seeded ticket {i}: " + rng.choice(["login", "payments", "statement"]),
                "requester": Person(name=f"Customer {who}", email=f"customer{who}@example.com"),
                "status": status,
                "priority": rng.choice(list(Priority)),
                "assignee": rng.choice(["jane", "john", None]),
                "team": rng.choice(["online-banking", None]),
                "created_at": created,
                "updated_at": created + timedelta(minutes=rng.randint(0, 600)),
                "overdue": running and rng.random() < 0.05,
                "next_due_at": due if status is TicketStatus.OPEN else None,
                "version": 1,
            }
        )
        rows.append(ticket_row(state))
    return rows


def seed_projection(database_url: str, open_tickets: int) -> dict[str, int]:
    """The seeded rows written straight into the projection: PostgreSQL by COPY, then VACUUM
    ANALYZE as autovacuum would soon after (without the vacuum no page is marked all-visible,
    and every count scans the table instead of an index), SQLite by inserts of 1,000 rows at
    a time."""
    rows = seeded_rows(open_tickets)
    engine = make_engine(database_url)
    try:
        if engine.dialect.name == "postgresql":
            copy_rows(engine, TicketRow.__tablename__, rows)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f"VACUUM ANALYZE {TicketRow.__tablename__}"))
        else:
            with make_sessionmaker(engine).begin() as session:
                for start in range(0, len(rows), 1000):
                    session.execute(insert(TicketRow), rows[start : start + 1000])
    finally:
        engine.dispose()
    return {s.value: sum(row["status"] == s.value for row in rows) for s in TicketStatus}


# The three ways to a view's first page.


def view_ops(web: httpx.AsyncClient, api: httpx.AsyncClient, view: View) -> dict[str, Op]:
    """The page through the console; the list call it makes for its rows; all the API calls
    it makes, made by the console's own code here (who is signed in, then `gather_page`: the
    feed's head followed by the rows, and at once each view's count)."""
    console_api = IntakeApi(api)

    async def page() -> None:
        answer = await web.get("/agent", params={"view": view.value})
        if answer.status_code != 200 or 'id="queue-results"' not in answer.text:
            raise RuntimeError(f"{view}: {answer.status_code}")

    async def rows() -> None:
        params = list_params(QueueQuery(view=view), JANE, datetime.now(UTC)) or {}
        wanted = {**params, "per_page": PER_PAGE}
        (await api.get(TICKETS, params=wanted, headers=bearer(JANE_TOKEN))).raise_for_status()

    async def calls() -> None:
        await console_api.call("GET", "/api/v1/auth/me", credential=JANE_TOKEN)
        shown = await gather_page(console_api, JANE, QueueQuery(view=view), live=True)
        if shown.problem is not None or None in shown.counts.values():
            raise RuntimeError(f"{view}: {shown.problem or 'a count is missing'}")

    return {"page": page, "list_call": rows, "page_calls": calls}


async def queue_pages(stack: Stack, samples: int) -> dict[str, Any]:
    """Each view's first page, its list call and all its calls, `samples` times each, the
    order rotating from round to round."""
    async with (
        httpx.AsyncClient(base_url=stack.web_url, timeout=60) as web,
        httpx.AsyncClient(base_url=stack.intake_url, timeout=60) as api,
    ):
        console_session(web, JANE_TOKEN)
        ops = {(view, kind): op for view in View for kind, op in view_ops(web, api, view).items()}
        await alternating(1, ops)  # warm up: each once
        taken = await alternating(samples, ops)
    kinds = ("page", "list_call", "page_calls")
    groups: dict[str, dict[str, list[float]]] = {
        view.value: {kind: taken[view, kind] for kind in kinds} for view in View
    }
    groups["all_views"] = {
        kind: [ms for view in View for ms in taken[view, kind]] for kind in kinds
    }
    results: dict[str, Any] = {}
    for name, group in groups.items():
        figures = {kind: percentiles(values, 0.5, 0.99) for kind, values in group.items()}
        results[name] = {
            **figures,
            "ratio_p50": ratio(figures["page"], figures["list_call"]),
            "ratio_p50_to_page_calls": ratio(figures["page"], figures["page_calls"]),
        }
    return results
