"""The ticket workflow's one activity: publish what a workflow task changed."""

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from shared import metrics
from shared.db.publish import publish
from shared.domain.enums import EventKind
from shared.domain.models import PublishBatch, TicketState
from shared.logs import log_context
from shared.tracing.carrier import current_traceparent


class TicketActivities:
    """Holds the database; the worker builds one."""

    def __init__(self, sessions: sessionmaker[Session], channel: str = "email") -> None:
        self._sessions = sessions
        self._channel = channel

    @activity.defn(name="publish_ticket")
    def publish_ticket(self, batch: PublishBatch) -> list[str]:
        """Projection, thread, timeline, facts and notification outbox in one transaction.

        Runs as a local activity: its input stays out of the workflow's history, and its
        result (what was published and queued, or skipped) is shown in the Temporal UI.
        """
        # What it queues (mail, webhooks' events) carries this activity's span to delivery.
        traceparent = current_traceparent()
        with log_context(ticket=batch.state.number), self._sessions.begin() as session:
            done = publish(session, batch, self._channel, traceparent=traceparent)
        if done[0].startswith("published"):  # committed now, not a retry's repeat
            count_published(batch.state, datetime.now(UTC))
        return done


def count_published(state: TicketState, now: datetime) -> None:
    """Counted here, once published, never in the workflow (whose code runs again on replay):
    each ticket opened, by source (from the API, the portal or mail-in alike), and each
    escalation, with how long after its due time it was published."""
    for event in state.timeline:
        if event.kind is EventKind.CREATED:
            metrics.TICKETS_CREATED.labels(source=event.detail.get("source", "")).inc()
        elif event.kind is EventKind.ESCALATED:
            clock = event.detail.get("clock", "")
            metrics.ESCALATIONS.labels(clock=clock).inc()
            if due := event.detail.get("due_at"):
                late = (now - datetime.fromisoformat(due)).total_seconds()
                metrics.ESCALATION_LATENESS.labels(clock=clock).observe(max(0.0, late))
