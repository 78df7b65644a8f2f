"""Tickets written straight into the projection, as the workflow's publish step writes them,
for the in-process API (which answers a ticket from its projection when Temporal is down)."""

import uuid
from datetime import UTC, datetime, timedelta

from services.workflows.activities import TicketActivities
from shared.db import thread
from shared.db.engine import make_engine, make_sessionmaker
from shared.domain import lifecycle
from shared.domain.enums import Action, ActorKind, Priority, Source
from shared.domain.models import (
    Actor,
    Person,
    PublishBatch,
    SlaPlanSnapshot,
    TicketCommand,
    TicketInput,
)

JANE = Actor(kind=ActorKind.AGENT, name="Jane Agent", handle="jane")
PLAN = SlaPlanSnapshot(
    handle="default",
    name="Default",
    first_response=timedelta(hours=4),
    resolution=timedelta(days=1),
    auto_close=timedelta(days=3),
)


def seed_ticket(
    database_url: str,
    number: str,
    *,
    subject: str = "Printer on fire",
    name: str = "Ann Requester",
    message: str = "It started smoking at 9:00.",
    responses: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
    closed: bool = False,
) -> None:
    """A published ticket with its first message, then agents' responses and notes; closed
    by an agent if `closed`."""
    now = datetime.now(UTC)
    engine = make_engine(database_url)
    sessions = make_sessionmaker(engine)
    try:
        with sessions.begin() as session:
            first = thread.store_message(session, number, "first", message, now)
            later = [
                (action, thread.store_message(session, number, f"{action}-{i}", body, now))
                for i, (action, body) in enumerate(
                    [(Action.RESPOND, text) for text in responses]
                    + [(Action.NOTE, text) for text in notes]
                )
            ]
        data = TicketInput(
            number=number,
            subject=subject,
            message=first,
            requester=Person(name=name, email="ann@example.com"),
            help_topic="general",
            department="support",
            priority=Priority.NORMAL,
            source=Source.WEB,
            sla_plan=PLAN,
            idempotency_key=uuid.uuid4().hex,
        )
        state, _ = lifecycle.open_ticket(data, now)
        for action, ref in later:
            command = TicketCommand(
                command_id=uuid.uuid4().hex, action=action, actor=JANE, message=ref
            )
            lifecycle.apply(state, command, now)
        if closed:
            close = TicketCommand(command_id=uuid.uuid4().hex, action=Action.CLOSE, actor=JANE)
            lifecycle.apply(state, close, now)
        TicketActivities(sessions).publish_ticket(PublishBatch(state=state, notices=[]))
    finally:
        engine.dispose()
