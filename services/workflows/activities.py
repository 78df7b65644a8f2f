"""The ticket workflow's one activity: publish what a workflow task changed."""

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from shared.db.publish import publish
from shared.domain.models import PublishBatch


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
        with self._sessions.begin() as session:
            return publish(session, batch, self._channel)
