"""The webhook feed for tests that read it (the queue on its own, the admin API's delivery
log): tickets published as the workflow publishes them, the dispatcher run until it has
caught up, and the delivery settings and outcomes those tests use."""

import time
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.workflows.activities import TicketActivities
from shared.db import webhook_attempts as attempts
from shared.db import webhook_queue as queue
from shared.db.tables import FeedEventRow, WebhookSubscriptionRow
from shared.domain import lifecycle
from shared.domain.enums import Action
from shared.domain.models import PublishBatch, TicketCommand, TicketState
from shared.domain.webhooks import Backoff
from tests.builders import AGENT, T0, new_input, ref

LEASE = timedelta(seconds=30)
BACKOFF = Backoff(base=timedelta(seconds=5), cap=timedelta(minutes=5), give_up=timedelta(hours=1))
OK = attempts.Outcome(200, 3.0, None)
DOWN = attempts.Outcome(503, 2.0, "HTTP 503: down")


class Tickets:
    """Tickets published as the workflow publishes them: each command its own transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.acts = TicketActivities(sessions)
        self.states: dict[str, TicketState] = {}
        self.commands = 0

    def open(self, number: str) -> None:
        state, _ = lifecycle.open_ticket(new_input(number=number), T0)
        self.states[number] = state
        self._publish(state)

    def note(self, number: str, text: str = "internal") -> None:
        self._apply(number, Action.NOTE, message=ref(text))

    def reply(self, number: str, text: str = "on it") -> None:
        self._apply(number, Action.RESPOND, message=ref(text))

    def _apply(self, number: str, action: Action, **fields: object) -> None:
        self.commands += 1
        cmd = TicketCommand(command_id=f"c{self.commands}", action=action, actor=AGENT, **fields)
        state = self.states[number]
        lifecycle.apply(state, cmd, T0 + timedelta(minutes=self.commands))
        self._publish(state)

    def _publish(self, state: TicketState) -> None:
        self.acts.publish_ticket(PublishBatch(state=state, notices=[]))
        state.timeline, state.thread = [], []


def drain(sessions: sessionmaker[Session]) -> None:
    """Dispatch until every active subscription's cursor is past the last event. (On
    PostgreSQL the feed serves an event once every older transaction of the server ended:
    other tests' CREATE DATABASE may hold it back for a moment.)"""
    deadline = time.monotonic() + 30
    while True:
        with sessions() as session:
            ids = queue.active_subscriptions(session)
        for i in ids:
            while queue.dispatch(sessions, i, T0, limit=3):
                pass
        with sessions() as session:
            last = session.execute(
                select(FeedEventRow.txid, FeedEventRow.position)
                .order_by(FeedEventRow.txid.desc(), FeedEventRow.position.desc())
                .limit(1)
            ).first()
            cursors = session.execute(
                select(
                    WebhookSubscriptionRow.cursor_txid, WebhookSubscriptionRow.cursor_position
                ).where(WebhookSubscriptionRow.active.is_(True))
            ).all()
        if last is None or all(tuple(c) >= tuple(last) for c in cursors):
            return
        assert time.monotonic() < deadline, "the dispatcher did not reach the feed's end"
        time.sleep(0.05)
