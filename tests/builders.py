"""Builders of the test data that more than one test module uses: a clock and actors, message
references and inbound mail, SLA plans and schedules, tickets (as the API takes them and as the
state machine holds them), and agents with their bearer tokens.

Builders of workflow inputs and commands stay with the workflow tests (tests/workflows)."""

import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import httpx

from services.workflows.activities import TicketActivities
from shared.db import thread
from shared.db.engine import make_engine, make_sessionmaker
from shared.domain import lifecycle
from shared.domain.enums import Action, ActorKind, Priority, Source, TicketStatus
from shared.domain.models import (
    Actor,
    ExternalRef,
    MessageRef,
    Person,
    PublishBatch,
    SlaOverride,
    SlaPlanSnapshot,
    TicketCommand,
    TicketInput,
    TicketState,
)
from shared.reference import service as reference
from shared.reference.schemas import AgentCreate

# A clock and actors

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
AGENT = Actor(kind=ActorKind.AGENT, name="Jane", handle="jane")
REQUESTER = Actor(kind=ActorKind.REQUESTER, name="Alice")

# Encryption: ENCRYPTION_KEYS of every test stack and test worker, fixed in the code so that
# the recorded encrypted history's data key (tests/workflows/histories) unwraps for good.
TEST_ENCRYPTION_KEYS = "test-1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="


# Messages


def ref(text: str) -> MessageRef:
    """A reference like the intake's (the body itself is not stored by these tests)."""
    return MessageRef(id=hashlib.sha256(text.encode()).hexdigest()[:40], size=len(text.encode()))


def mail(
    *,
    sender: str,
    to: str = "support@ticketflow.test",
    subject: str = "Cannot log in",
    body: str = "Since this morning I cannot log in.",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    html: str | None = None,
    authentication_results: Sequence[str] = (),
) -> EmailMessage:
    """Inbound mail as mail clients and autoresponders write it; `html` makes it HTML-only.
    `authentication_results` come first, topmost first, as MTAs add them above what a sender
    wrote."""
    message = EmailMessage()
    for value in authentication_results:
        message["Authentication-Results"] = value
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@client.test>"
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    if html is not None:
        message.set_content(html, subtype="html")
    else:
        message.set_content(body)
    return message


# SLA plans and schedules

PLAN = SlaPlanSnapshot(
    handle="default",
    name="Default",
    first_response=timedelta(hours=4),
    resolution=timedelta(hours=24),
    auto_close=timedelta(days=3),
    by_priority={Priority.EMERGENCY: SlaOverride(first_response=timedelta(minutes=30))},
)


def new_input(number: str | None = None, **overrides: object) -> TicketInput:
    """A new ticket's input as intake sends it (a fresh number and key unless given)."""
    data = TicketInput(
        number=number or str(uuid.uuid4().int % 900_000 + 100_000),
        subject="Online banking system down",
        message=ref("I cannot log in to online banking."),
        requester=Person(name="Alice Customer", email="alice@example.com"),
        help_topic="online-banking",
        department="online-banking",
        team="online-banking",
        priority=Priority.NORMAL,
        source=Source.WEB,
        sla_plan=PLAN,
        idempotency_key=uuid.uuid4().hex,
    )
    return data.model_copy(update=overrides)


def sla_plan_body(**changes: Any) -> dict[str, Any]:
    """The admin API's body for the default plan (as PLAN, without its emergency override)."""
    plan = {
        "handle": "default",
        "name": "Default",
        "first_response": "PT4H",
        "resolution": "P1D",
        "auto_close": "P3D",
    }
    return {**plan, **changes}


def office_hours_body(**changes: Any) -> dict[str, Any]:
    """The admin API's body for a schedule: nine to five on weekdays in London."""
    office = {
        "handle": "office",
        "name": "Office hours",
        "timezone": "Europe/London",
        "hours": {str(day): [{"start": "09:00", "end": "17:00"}] for day in range(5)},
    }
    return {**office, **changes}


# Tickets


def ticket_body(**changes: Any) -> dict[str, Any]:
    """A body for POST /api/v1/tickets that passes validation: Anna's jammed printer."""
    ticket = {
        "requester": {"name": "Anna Example", "email": "anna@example.com"},
        "subject": "Printer jams",
        "message": "It jams on page two.",
        "help_topic": "general",
    }
    return {**ticket, **changes}


def ticket_state(status: TicketStatus = TicketStatus.OPEN) -> TicketState:
    """Ticket 123456 as the state machine holds it, opened at T0 with a CRM reference and
    then put in `status`."""
    data = new_input(
        "123456",
        message=ref("help"),
        requester=Person(name="Alice", email="alice@example.com"),
        idempotency_key="k",
        external_refs=[ExternalRef(system="crm", id="C-9")],
    )
    state, _ = lifecycle.open_ticket(data, T0)
    state.status = status
    return state


# Agents, bootstrapped through the service layer as the CLI does (`ticketflow agents add`)


def person(
    handle: str, role: str, name: str | None = None, domain: str = "example.com"
) -> AgentCreate:
    return AgentCreate(handle=handle, name=name or handle, email=f"{handle}@{domain}", role=role)


def create_agents(database_url: str, *agents: AgentCreate) -> list[str]:
    """Create `agents` in the database; their bearer tokens, in the same order."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            tokens = [reference.create_agent(session=session, data=data)[1] for data in agents]
            session.commit()
    finally:
        engine.dispose()
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def agent_headers(
    database_url: str, handle: str, role: str, name: str | None = None
) -> dict[str, str]:
    """The Authorization header of one new agent."""
    [token] = create_agents(database_url, person(handle, role, name))
    return bearer(token)


# Reference data through the admin API


def create_entity(
    client: httpx.Client, admin: dict[str, str], kind: str, body: dict[str, Any]
) -> Any:
    """Create reference data of `kind` ("teams", "sla-plans", ...) through the admin API as
    `admin`, which must answer 201; the answer's body."""
    response = client.post(f"/api/v1/admin/{kind}", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def cmd(action: Action, actor: Actor = AGENT, **fields: object) -> TicketCommand:
    """A command as the ticket service builds it, with a fresh id."""
    return TicketCommand(command_id=uuid.uuid4().hex, action=action, actor=actor, **fields)  # type: ignore[arg-type]


def seed_ticket(
    database_url: str,
    number: str,
    *,
    subject: str = "Printer on fire",
    name: str = "Ann Requester",
    email: str = "ann@example.com",
    message: str = "It started smoking at 9:00.",
    responses: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
    closed: bool = False,
) -> None:
    """A ticket written straight into the projection, as the workflow's publish step writes
    it (for the in-process API, which answers it from there when Temporal is down): its first
    message, then agents' responses and notes; closed by an agent if `closed`."""
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
        data = new_input(
            number,
            subject=subject,
            message=first,
            requester=Person(name=name, email=email),
            help_topic="general",
            department="support",
            team=None,
        )
        state, _ = lifecycle.open_ticket(data, now)
        for action, ref in later:
            command = TicketCommand(
                command_id=uuid.uuid4().hex, action=action, actor=AGENT, message=ref
            )
            lifecycle.apply(state, command, now)
        if closed:
            close = TicketCommand(command_id=uuid.uuid4().hex, action=Action.CLOSE, actor=AGENT)
            lifecycle.apply(state, close, now)
        TicketActivities(sessions).publish_ticket(PublishBatch(state=state, notices=[]))
    finally:
        engine.dispose()
