"""The notification outbox: notices become queued notifications, one per person, in the same
transaction as the projection; the notify service delivers what is queued.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db import directory
from shared.db.tables import MessageBodyRow, NotificationRow
from shared.db.writes import insert_new
from shared.domain.enums import DeliveryStatus, RecipientRole
from shared.domain.models import Notice, Person, TicketState
from shared.domain.notices import notification_key, render_body


def queue_notices(
    session: Session,
    state: TicketState,
    notices: list[Notice],
    channel: str,
    *,
    traceparent: str | None = None,
) -> list[str]:
    """Queue each notice for each of its recipients; one line per notice saying what happened."""
    rows: list[dict[str, Any]] = []
    outcomes: list[str] = []
    now = datetime.now(UTC)
    for notice, people in zip(notices, _recipients(session, state, notices), strict=True):
        label = f"{notice.kind.value} to {notice.recipient.role.value.replace('_', ' ')}"
        if isinstance(people, str):
            outcomes.append(f"{label}: skipped ({people})")
            continue
        body = render_body(notice, _quoted(session, notice.message_id))
        for person in people:
            rows.append(
                {
                    "idempotency_key": notification_key(state.number, notice, person.email),
                    "ticket": state.number,
                    "kind": notice.kind.value,
                    "recipient_name": person.name,
                    "recipient_email": person.email,
                    "channel": channel,
                    "subject": notice.subject,
                    "body": body,
                    "status": DeliveryStatus.QUEUED.value,
                    "attempts": 0,
                    "created_at": now,
                    "traceparent": traceparent,
                }
            )
        outcomes.append(f"{label}: queued for {', '.join(p.email for p in people)}")
    insert_new(session, NotificationRow, rows)
    return outcomes


def _quoted(session: Session, message_id: str | None) -> str | None:
    if message_id is None:
        return None
    return session.scalar(select(MessageBodyRow.body).where(MessageBodyRow.id == message_id))


def _recipients(
    session: Session, state: TicketState, notices: list[Notice]
) -> list[list[Person] | str]:
    """For each notice, the people to tell, or a string saying why nobody is told."""
    handles = directory.recipient_handles(
        session, notices, team=state.team, department=state.department, assignee=state.assignee
    )
    handles = [
        [h for h in named if h != notice.exclude_agent]
        for notice, named in zip(notices, handles, strict=True)
    ]
    agents = directory.people(session, (h for named in handles for h in named))
    out: list[list[Person] | str] = []
    for notice, named in zip(notices, handles, strict=True):
        if notice.recipient.role is RecipientRole.REQUESTER:
            out.append([state.requester])
            continue
        found = [agents[h] for h in named if h in agents]
        if not found:
            out.append(f"no {notice.recipient.role.value.replace('_', ' ')} to tell")
            continue
        # One mail per person, even when two roles of one step name the same agent.
        out.append(list({person.email.lower(): person for person in found}.values()))
    return out
