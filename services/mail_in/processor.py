"""One inbound message, from bytes to its effect on a ticket, exactly once.

The message is recorded first (keyed by its Message-ID), then placed (the ticket it answers,
the agent who sent it), decided on (shared.domain.mail.decision) and acted upon through the
ticket service with an idempotency key derived from the same Message-ID: a delivery that
fails half-way (TempFail: the MTA retries) and its retry together act once.
"""

import io
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from typing import TypeVar

from opentelemetry import trace
from opentelemetry.trace import SpanKind
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from services.tickets.commands import CommandRequest
from services.tickets.errors import Conflict, NotApplied, NotFound, Rejected, Unavailable
from services.tickets.inputs import MessageBody, RequesterIn, TicketCreate
from services.tickets.service import Tickets
from shared.blobs import BlobStore, blob_store
from shared.db import mail_in as log_db
from shared.db.attachments import StoredFile
from shared.db.threads import in_thread
from shared.domain import text as rules
from shared.domain.enums import Action, ActorKind, Source
from shared.domain.lifecycle import Refusal
from shared.domain.mail import content
from shared.domain.mail.addresses import dedupe_key, normal_address, ticket_token
from shared.domain.mail.decision import (
    AgentMessage,
    Context,
    Decision,
    Ignore,
    OpenTicket,
    Outcome,
    Policy,
    Refuse,
    RequesterReply,
    decide,
    topic_for,
)
from shared.domain.mail.message import Attachment, InboundMessage, Unparseable, parse
from shared.domain.models import Actor

log = logging.getLogger("ticketflow.mail_in")
_TRACER = trace.get_tracer(__name__)

RATE_WINDOW = timedelta(hours=1)
# A ticket refusing a requester who writes too fast is momentary: let the MTA retry.
RETRYABLE = frozenset({Refusal.RATE_LIMITED})
_BODY = TypeAdapter(rules.Body)
T = TypeVar("T")

__all__ = ["MailIn", "Result", "TempFail", "Unparseable"]


class TempFail(Exception):
    """A dependency is down; nothing was decided for good: deliver again later."""


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    ticket: str | None = None
    detail: str | None = None

    def summary(self) -> str:
        ticket = f" ticket {self.ticket}" if self.ticket else ""
        return f"{self.outcome.value}{ticket}" + (f": {self.detail}" if self.detail else "")


class MailIn:
    """Receives messages for one process, through its ticket service."""

    def __init__(self, tickets: Tickets) -> None:
        settings = tickets.settings
        self._tickets = tickets
        self._sessions = tickets.sessions
        self._settings = settings
        self._blobs: BlobStore = blob_store(settings)
        self._policy = Policy(
            own_addresses=frozenset({normal_address(parseaddr(settings.mail_from)[1])}),
            hourly_limit=settings.mail_in_hourly_limit,
            trusted_authserv_ids=settings.mail_in_trusted_authserv_ids,
        )
        # Where answers to our mail come: accepted whatever help topics are set.
        self._reply_to = normal_address(parseaddr(settings.mail_reply_to or settings.mail_from)[1])

    def accepts_recipient(self, address: str) -> bool:
        """Whether mail to `address` has a help topic (checked at RCPT time)."""
        settings = self._settings
        address = normal_address(address)
        return (
            bool(settings.mail_in_default_topic)
            or address == self._reply_to
            or address in settings.mail_in_addresses
        )

    async def receive(
        self, raw: bytes, *, sender: str | None = None, recipients: tuple[str, ...] = ()
    ) -> Result:
        """Record and act on one message. Raises Unparseable (bounce it) or TempFail."""
        # The trace of a message's effect begins here (its span names no address).
        with _TRACER.start_as_current_span("receive mail", kind=SpanKind.SERVER) as span:
            result = await self._receive(raw, sender=sender, recipients=recipients)
            span.set_attribute("ticketflow.outcome", result.outcome.value)
            if result.ticket is not None:
                span.set_attribute("ticketflow.ticket", result.ticket)
            return result

    async def _receive(
        self, raw: bytes, *, sender: str | None, recipients: tuple[str, ...]
    ) -> Result:
        now = datetime.now(UTC)
        try:
            message = parse(raw, envelope_sender=sender, envelope_recipients=recipients)
        except Unparseable as err:
            # Logged if the database lets us; unreadable it stays whatever the database says.
            try:
                await in_thread(
                    log_db.record_unparseable,
                    self._sessions,
                    raw=raw,
                    reason=str(err),
                    sender=sender or "",
                    now=now,
                )
            except (DBAPIError, PoolTimeout):
                log.warning("could not log an unparseable message: the database is unavailable")
            raise
        key = dedupe_key(message.message_id, raw)
        claim = await self._db(
            lambda: log_db.record(self._sessions, key=key, message=message, now=now)
        )
        if claim.delivery is log_db.Delivery.DUPLICATE:
            result = Result(Outcome.DUPLICATE, claim.ticket, "delivered before: nothing done")
        else:
            decision = await self._db(lambda: self._decide(message, now))
            result = await self._act(decision, message, key)
            await self._db(
                lambda: log_db.finish(
                    self._sessions,
                    claim.row_id,
                    outcome=result.outcome,
                    ticket=result.ticket,
                    detail=result.detail,
                    now=datetime.now(UTC),
                )
            )
        # Never the sender's address: log lines name no person.
        log.info("%s: %s", message.message_id, result.summary())
        return result

    def _decide(self, message: InboundMessage, now: datetime) -> Decision:
        settings = self._settings
        with self._sessions() as session:
            number = log_db.answered_ticket(session, message.referenced)
            ticket = log_db.ticket_ref(session, number or ticket_token(message.subject) or "")
            context = Context(
                ticket=ticket,
                agent=log_db.agent_by_email(session, message.sender),
                recent_from_sender=log_db.acted_since(session, message.sender, now - RATE_WINDOW),
                topic=topic_for(
                    message.recipients,
                    settings.mail_in_addresses,
                    settings.mail_in_default_topic,
                ),
                answers_mail_to_sender=ticket is not None
                and log_db.answers_mail_to(
                    session,
                    message.referenced,
                    ticket=ticket.number,
                    sender=message.sender,
                    secret_key=settings.secret_key,
                ),
            )
        return decide(message, context, self._policy)

    async def _act(self, decision: Decision, message: InboundMessage, key: str) -> Result:
        # The ticket service scopes a create's key by requester and a command's by actor.
        idempotency_key = f"mail-in:{key[:40]}"
        try:
            if isinstance(decision, Ignore):
                return Result(Outcome.IGNORED_AUTO_REPLY, decision.ticket, decision.reason)
            if isinstance(decision, Refuse):
                return Result(Outcome.REFUSED, decision.ticket, decision.reason)
            if isinstance(decision, OpenTicket):
                return await self._open(decision, message, idempotency_key)
            return await self._command(decision, message, idempotency_key)
        except ValidationError as err:
            problems = "; ".join(str(e["msg"]) for e in err.errors())
            return Result(Outcome.REFUSED, _number(decision), f"not accepted: {problems}")
        except NotFound as err:
            return Result(Outcome.REFUSED, _number(decision), f"{err.what} not found")
        except Conflict as err:
            return Result(Outcome.REFUSED, _number(decision), err.reason)
        except Rejected as err:
            if err.refusal in RETRYABLE:
                raise TempFail(err.reason) from err
            return Result(Outcome.REFUSED, _number(decision), err.reason)
        except NotApplied as err:
            raise TempFail("the ticket's workflow did not apply the message in time") from err
        except Unavailable as err:
            raise TempFail(f"{err.dependency} is unavailable") from err
        except (DBAPIError, PoolTimeout) as err:
            raise TempFail("the database is unavailable") from err

    async def _open(self, decision: OpenTicket, message: InboundMessage, key: str) -> Result:
        body = TicketCreate(
            requester=RequesterIn(
                name=content.sender_name(message.sender_name, message.sender),
                email=message.sender,
            ),
            subject=content.ticket_subject(message.subject),
            # A new message keeps all it says: a forwarded mail is the request itself.
            message=content.message_text(message.text, cut_history=False),
            help_topic=decision.topic,
            source=Source.EMAIL,
        )
        files, left = await self._store(message)
        created = await self._tickets.create(body, idempotency_key=key, files=files)
        detail = f"help topic {decision.topic}{left}"
        return Result(Outcome.CREATED, created.view.number, detail)

    async def _store(self, message: InboundMessage) -> tuple[tuple[StoredFile, ...], str]:
        """The message's attachments in the blob store (at most the per-message count, none
        over the size limit), and a note of those left out."""
        settings = self._settings
        kept = [a for a in message.attachments if a.size <= settings.max_attachment_bytes]
        kept = kept[: settings.max_attachments_per_message]
        left = len(message.attachments) - len(kept)

        def put(attachment: Attachment) -> StoredFile:
            blob = self._blobs.put(io.BytesIO(attachment.data))
            return StoredFile.of(blob, attachment.filename, attachment.content_type)

        try:
            files = tuple([await in_thread(put, a) for a in kept])
        except OSError as err:
            raise TempFail("the blob store is unavailable") from err
        note = f"; {left} attachment(s) over the limits left out" if left else ""
        return files, note

    async def _command(
        self, decision: RequesterReply | AgentMessage, message: InboundMessage, key: str
    ) -> Result:
        if isinstance(decision, RequesterReply):
            number = decision.ticket.number
            actor = Actor(kind=ActorKind.REQUESTER, name=decision.ticket.requester_name)
            action, outcome, detail = Action.REQUESTER_REPLY, Outcome.REPLIED, "requester reply"
            if decision.unverified:
                detail += " (unverified: its sender is not proven)"
            text = content.message_text(message.text)
            unverified = decision.unverified
        else:
            number = decision.ticket
            agent = decision.agent
            actor = Actor(kind=ActorKind.AGENT, name=agent.name, handle=agent.handle)
            if decision.note:
                action, outcome = Action.NOTE, Outcome.NOTED
                detail = f"internal note by agent {agent.handle}"
            else:
                action, outcome = Action.RESPOND, Outcome.REPLIED
                detail = f"response by agent {agent.handle}"
            text = content.message_text(message.text, drop_note_marker=decision.note)
            unverified = False
        files, left = await self._store(message)
        # The text obeys the API's message rules (a mail's text is not a request body).
        args = MessageBody.model_construct(message=_BODY.validate_python(text))
        request = CommandRequest(
            number, actor, action, args, key=key, files=files, unverified=unverified
        )
        await self._tickets.command(request)
        return Result(outcome, number, detail + left)

    async def _db(self, work: Callable[[], T]) -> T:
        """`work` in a worker thread: the SMTP listener's event loop serves other clients."""
        with _database():
            return await in_thread(work)


@contextmanager
def _database() -> Iterator[None]:
    try:
        yield
    except (DBAPIError, PoolTimeout) as err:
        raise TempFail("the database is unavailable") from err


def _number(decision: Decision) -> str | None:
    if isinstance(decision, RequesterReply):
        return decision.ticket.number
    if isinstance(decision, AgentMessage):
        return decision.ticket
    if isinstance(decision, Ignore | Refuse):
        return decision.ticket
    return None
