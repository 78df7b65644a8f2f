"""Scrubbing a requester out of the database, on SQLite and PostgreSQL: after `scrub_ticket`,
`scrub_address` and `erase_key`, no row of any table holds their name, address, texts or file
names; the other requester's rows and every report fact stay. Erasure requests: one running
per person, forgotten when done."""

import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from services.workflows.activities import TicketActivities
from shared.blobs import LocalBlobStore
from shared.db import data_keys, erasures, mail_in, requesters, scrub, thread
from shared.db.attachments import store_attachment
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.projection import stored_state
from shared.db.tables import (
    Base,
    DataKeyRow,
    SignInFailureRow,
    SlaClockFactRow,
    TicketEventFactRow,
    TicketRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
)
from shared.domain import lifecycle
from shared.domain.enums import Action, ActorKind, Rating
from shared.domain.erasure import ErasureStatus, is_erased
from shared.domain.ids import ticket_workflow_id
from shared.domain.mail.decision import Outcome
from shared.domain.mail.message import parse
from shared.domain.models import Actor, Person, PublishBatch, TicketCommand
from tests.builders import AGENT, mail, new_input

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Requester:
    number: str
    name: str
    email: str
    subject: str
    message: str
    comment: str
    file_name: str

    @classmethod
    def new(cls, number: str, first: str) -> "Requester":
        tag = uuid.uuid4().hex[:10]
        return cls(
            number=number,
            name=f"{first} {tag}",
            email=f"{first.lower()}.{tag}@example.com",
            subject=f"Subject {tag}",
            message=f"message {uuid.uuid4().hex}",
            comment=f"comment {uuid.uuid4().hex}",
            file_name=f"scan-{tag}.pdf",
        )

    def markers(self) -> dict[str, str]:
        return {
            "name": self.name,
            "address": self.email,
            "subject": self.subject,
            "message": self.message,
            "comment": self.comment,
            "file name": self.file_name,
        }


@pytest.fixture
def sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url)
    yield make_sessionmaker(engine)
    engine.dispose()


def a_closed_ticket(
    sessions: sessionmaker[Session], blobs: LocalBlobStore, who: Requester, file: bytes
) -> None:
    """Opened with a file (its notices queued, its events in the feed), replied to by the
    requester, closed by an agent, rated with a comment; published as the workflow does."""
    with sessions.begin() as session:
        first = thread.store_message(session, who.number, "first", who.message, NOW)
        attached = store_attachment(
            session,
            blobs,
            ticket=who.number,
            message_id=first.id,
            position=0,
            name=who.file_name,
            content_type="application/pdf",
            data=io.BytesIO(file),
            now=NOW,
        )
        reply = thread.store_message(session, who.number, "reply", f"{who.message} again", NOW)
        comment = thread.store_message(session, who.number, "comment", who.comment, NOW)
    data = new_input(
        who.number,
        subject=who.subject,
        message=first.model_copy(update={"attachments": [attached]}),
        requester=Person(name=who.name, email=who.email),
    )
    state, notices = lifecycle.open_ticket(data, NOW)
    requester = Actor(kind=ActorKind.REQUESTER, name=who.name)
    for command in (
        TicketCommand(
            command_id="r", action=Action.REQUESTER_REPLY, actor=requester, message=reply
        ),
        TicketCommand(command_id="c", action=Action.CLOSE, actor=AGENT),
        TicketCommand(
            command_id="g", action=Action.RATE, actor=requester, rating=Rating.GOOD, comment=comment
        ),
    ):
        notices += lifecycle.apply(state, command, NOW + timedelta(minutes=5))
    TicketActivities(sessions).publish_ticket(PublishBatch(state=state, notices=notices))


def mail_from(sessions: sessionmaker[Session], who: Requester, ticket: str | None) -> None:
    message = parse(bytes(mail(sender=f"{who.name} <{who.email}>", subject=who.subject)))
    claim = mail_in.record(sessions, key=uuid.uuid4().hex, message=message, now=NOW)
    outcome = Outcome.REPLIED if ticket else Outcome.REFUSED
    detail = None if ticket else f"{who.email} may not write here"
    mail_in.finish(sessions, claim.row_id, outcome=outcome, ticket=ticket, detail=detail, now=NOW)


def traces(session: Session, who: Requester) -> list[str]:
    """Where `who` shows in any row of any table: "table: what"."""
    found = []
    for table in Base.metadata.sorted_tables:
        rows = "\n".join(str(tuple(row)) for row in session.execute(select(table)))
        found += [f"{table.name}: {what}" for what, text in who.markers().items() if text in rows]
    return sorted(found)


def a_webhook_failure(session: Session, number: str, error: str) -> None:
    subscription = WebhookSubscriptionRow(
        handle=f"hook-{number}", url="https://example.com/hook", secret="s", created_at=NOW,
        updated_at=NOW,
    )  # fmt: skip
    session.add(subscription)
    session.flush()
    delivery = WebhookDeliveryRow(
        subscription_id=subscription.id, event_id=f"{number}-1", ticket=number,
        type="ticket.created", webhook_id=f"msg_{number}", status="failed", last_error=error,
        created_at=NOW,
    )  # fmt: skip
    session.add(delivery)
    session.flush()
    session.add(WebhookAttemptRow(delivery_id=delivery.id, at=NOW, error=error, finished=True))


def test_a_scrubbed_requester_is_in_no_table(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    ann, bob = Requester.new("100001", "Ann"), Requester.new("100002", "Bob")
    blobs = LocalBlobStore(tmp_path / "blobs")
    shared_file, anns_file = b"the same form, sent by both", b"ann's own scan"
    a_closed_ticket(sessions, blobs, ann, anns_file)
    a_closed_ticket(sessions, blobs, bob, shared_file)
    with sessions.begin() as session:
        store_attachment(
            session, blobs, ticket=ann.number, message_id="m2", position=0, name="form.pdf",
            content_type="application/pdf", data=io.BytesIO(shared_file), now=NOW,
        )  # fmt: skip
    mail_from(sessions, ann, ann.number)
    mail_from(sessions, ann, None)
    mail_from(sessions, bob, bob.number)
    with sessions.begin() as session:
        for who in (ann, bob):
            a_webhook_failure(session, who.number, f"HTTP 500: {who.email} unknown")
            session.add(SignInFailureRow(at=NOW, account=who.email, client="192.0.2.1"))
            data_keys.create(
                session, key_id=uuid.uuid4().hex, scope=ticket_workflow_id(who.number),
                kek_id="k1", wrapped=b"wrapped", now=NOW,
            )  # fmt: skip
    with sessions() as session:
        facts_before = [
            (row.ticket, row.kind, row.rating)
            for row in session.scalars(
                select(TicketEventFactRow).order_by(
                    TicketEventFactRow.ticket, TicketEventFactRow.seq
                )
            )
        ]
        clocks_before = len(session.scalars(select(SlaClockFactRow)).all())
        assert requesters.ticket_numbers(session, ann.email.upper()) == [ann.number]
        assert requesters.rating_comments(session, ann.number) == [ann.comment]
        assert len(traces(session, ann)) > 8

    with sessions() as session:
        unshared = scrub.unshared_digests(session, ann.number)
    assert [blobs.open(digest).read() for digest in unshared] == [anns_file]
    for _ in range(2):  # as a retried activity would
        with sessions.begin() as session:
            scrub.scrub_ticket(session, ann.number)
            scrub.scrub_address(session, ann.email)
            assert scrub.erase_key(session, ann.number, NOW) is (_ == 0)

    with sessions() as session:
        assert traces(session, ann) == []
        assert traces(session, bob) == sorted(
            f"{table}: {what}"
            for table, what in [
                ("tickets", "name"), ("tickets", "address"), ("tickets", "subject"),
                ("message_bodies", "message"), ("message_bodies", "comment"),
                ("ticket_thread", "name"), ("ticket_timeline", "name"),
                ("ticket_events", "name"), ("ticket_events", "address"),
                ("ticket_events", "subject"), ("notifications", "name"),
                ("notifications", "address"), ("notifications", "subject"),
                ("inbound_mail", "address"), ("inbound_mail", "subject"),
                ("attachments", "file name"), ("webhook_deliveries", "address"),
                ("webhook_attempts", "address"), ("sign_in_failures", "address"),
            ]
        )  # fmt: skip
        erased = stored_state(session, ann.number)
        assert erased is not None and is_erased(erased)
        assert erased.number == ann.number and erased.status == "closed"
        keys = {row.scope: row.erased_at for row in session.scalars(select(DataKeyRow))}
        assert keys[ticket_workflow_id(ann.number)] is not None
        assert keys[ticket_workflow_id(bob.number)] is None
        # The facts reports count are all there, without the comment's link to its text.
        facts = session.scalars(
            select(TicketEventFactRow).order_by(TicketEventFactRow.ticket, TicketEventFactRow.seq)
        )
        assert [(f.ticket, f.kind, f.rating) for f in facts] == facts_before
        assert (
            session.scalar(
                select(TicketEventFactRow.comment).where(
                    TicketEventFactRow.ticket == ann.number, TicketEventFactRow.kind == "rated"
                )
            )
            is None
        )
        assert len(session.scalars(select(SlaClockFactRow)).all()) == clocks_before


def test_expired_tickets_are_closed_ones_not_yet_erased(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    blobs = LocalBlobStore(tmp_path / "blobs")
    people = [Requester.new(f"10000{i}", "Cy") for i in range(1, 5)]
    for who in people:
        a_closed_ticket(sessions, blobs, who, who.message.encode())
    with sessions.begin() as session:
        scrub.scrub_ticket(session, people[0].number)
        session.get_one(TicketRow, people[3].number).status = "open"
    later, earlier = NOW + timedelta(days=1), NOW - timedelta(days=1)
    with sessions() as session:
        assert scrub.expired_tickets(session, cutoff=later, after="", limit=10) == [
            people[1].number,
            people[2].number,
        ]
        page = scrub.expired_tickets(session, cutoff=later, after=people[1].number, limit=10)
        assert page == [people[2].number]
        assert scrub.expired_tickets(session, cutoff=earlier, after="", limit=10) == []


def test_old_mail_on_no_ticket_is_scrubbed(sessions: sessionmaker[Session]) -> None:
    ann, bob = Requester.new("100001", "Ann"), Requester.new("100002", "Bob")
    mail_from(sessions, ann, None)
    mail_from(sessions, bob, "100002")
    with sessions.begin() as session:
        assert scrub.scrub_old_mail(session, NOW - timedelta(seconds=1)) == 0
        assert scrub.scrub_old_mail(session, NOW + timedelta(seconds=1)) == 1
    with sessions() as session:
        assert traces(session, ann) == []
        assert traces(session, bob) == ["inbound_mail: address", "inbound_mail: subject"]


def test_one_erasure_runs_per_person_and_forgets_the_address(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        first, new = erasures.open_request(session, ref="r1", email="ann@example.com", now=NOW)
        assert new
        again, new = erasures.open_request(session, ref="r1", email="ann@example.com", now=NOW)
        assert (again, new) == (first, False)
        assert erasures.address_of(session, first) == "ann@example.com"
        assert erasures.note_tickets(session, first, ["100002"]) == ["100002"]
        assert erasures.note_tickets(session, first, ["100001"]) == ["100001", "100002"]
    with sessions.begin() as session:
        erasures.finish(session, first, NOW)
        progress = erasures.progress(session, first)
        assert progress is not None
        assert (progress.status, progress.tickets_found, progress.tickets_erased) == (
            ErasureStatus.DONE,
            2,
            0,
        )
        assert erasures.address_of(session, first) is None
        later, new = erasures.open_request(session, ref="r1", email="ann@example.com", now=NOW)
        assert new and later != first
    with sessions() as session:
        assert erasures.progress(session, "0" * 32) is None
