"""`Tickets`: the ticket application service of one process, bound to its Temporal client,
database and settings. Intake's routes, mail-in and the web all go through it."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from services.tickets import commands, erasure, export, external_refs, reads
from services.tickets.backends import Backends
from services.tickets.commands import CommandRequest
from services.tickets.create import Created, create_ticket
from services.tickets.errors import Conflict, NotApplied, NotFound, Rejected, Unavailable
from services.tickets.export import RequesterRecords
from services.tickets.inputs import TicketCreate
from shared.db import thread
from shared.db.attachments import FoundAttachment, StoredFile, find_attachment
from shared.db.erasures import ErasureProgress
from shared.db.tables import TicketRow
from shared.db.threads import in_thread
from shared.domain.enums import Action, ActorKind, ThreadKind
from shared.domain.lifecycle import Refusal
from shared.domain.models import (
    Actor,
    AttachmentRef,
    ExternalRef,
    Person,
    ThreadEntry,
    TicketView,
    TimelineEvent,
)
from shared.logs import log_context
from shared.metrics import COMMANDS, CommandOutcome
from shared.temporal.client import unreachable


@contextmanager
def _counted(action: Action) -> Iterator[None]:
    """Count a command by its action and outcome (shared/metrics.py), as its caller is
    answered: applied, refused (4xx), unavailable (503) or an error (500); not one whose
    caller went away (cancelled)."""

    def count(outcome: CommandOutcome) -> None:
        COMMANDS.labels(action=action.value, outcome=outcome.value).inc()

    try:
        yield
    except (Rejected, Conflict, NotFound):
        count(CommandOutcome.REFUSED)
        raise
    except (Unavailable, NotApplied):
        count(CommandOutcome.UNAVAILABLE)
        raise
    except Exception:
        count(CommandOutcome.ERROR)
        raise
    else:
        count(CommandOutcome.APPLIED)


@contextmanager
def _temporal() -> Iterator[None]:
    """Temporal not reached at all (the client's first connection failing) is unavailable."""
    try:
        yield
    except RuntimeError as err:
        if unreachable(err):
            raise Unavailable("temporal") from err
        raise


@dataclass(frozen=True)
class Thread:
    """A ticket's thread, its published entries and those its workflow still holds, with
    their bodies by message id."""

    entries: list[ThreadEntry]
    bodies: dict[str, str]


class Tickets(Backends):
    """Every use case of tickets, for intake's routes, mail-in and the web alike."""

    async def create(
        self,
        body: TicketCreate,
        *,
        idempotency_key: str | None,
        files: Sequence[StoredFile] = (),
    ) -> Created:
        """Open a ticket (or find the one this key, or one of its references, made)."""
        create = external_refs.create_with_refs if body.external_refs else create_ticket
        with _temporal():
            return await create(self, body, idempotency_key=idempotency_key, files=files)

    async def command(self, request: CommandRequest) -> TicketView:
        with log_context(ticket=request.number), _counted(request.action), _temporal():
            return await commands.run_command(self, request)

    async def send_link(self, number: str, email: str, *, key: str | None) -> bool:
        """Mail the requester of ticket `number` a fresh link to its page, if `email` is their
        address; False when it is not (or no such ticket, or links were mailed too often).
        The caller answers the same either way: nobody learns which tickets or addresses
        exist."""
        requester = await in_thread(self._requester_of, number)
        if requester is None:  # unknown, or so new that its projection is not written yet
            try:
                requester = (await self.read(number)).requester
            except (NotFound, Unavailable):
                return False
        if requester.email.lower() != email.strip().lower():
            return False
        actor = Actor(kind=ActorKind.REQUESTER, name=requester.name)
        try:
            await self.command(CommandRequest(number, actor, Action.SEND_LINK, key=key))
        except Rejected as err:
            if err.refusal is Refusal.RATE_LIMITED:
                return False
            raise
        return True

    def _requester_of(self, number: str) -> Person | None:
        with self.sessions() as session:
            row = session.get(TicketRow, number)
            if row is None:
                return None
            return Person(name=row.requester_name, email=row.requester_email)

    async def claim_link(self, number: str, ref: ExternalRef) -> None:
        """Claim `ref` for ticket `number` before the link command that attaches it."""
        await external_refs.claim_for_link(self, number, ref)

    async def read(self, number: str) -> TicketView:
        return await reads.read_view(self, number)

    async def thread(self, view: TicketView) -> Thread:
        def read() -> Thread:
            with self.sessions() as session:
                entries = thread.thread_of(session, view.number, view.thread)
                return Thread(entries, thread.bodies(session, entries))

        return await in_thread(read)

    async def attachment(
        self, number: str, attachment_id: str
    ) -> tuple[ThreadKind | None, AttachmentRef]:
        """A file of the ticket's thread, and the kind of entry it belongs to (None: none,
        e.g. its command was refused). NotFound if the ticket has no such file."""
        found = await in_thread(self._find_attachment, number, attachment_id)
        if found is None:
            raise NotFound(f"attachment {attachment_id}")
        if found.kind is not None:
            return found.kind, found.ref
        # Not published yet: the workflow still holds the entry.
        view = await self.read(number)
        for entry in view.thread:
            if entry.message_id == found.message_id:
                return entry.kind, found.ref
        again = await in_thread(self._find_attachment, number, attachment_id)  # published since?
        return (again.kind if again else None), found.ref

    def _find_attachment(self, number: str, attachment_id: str) -> FoundAttachment | None:
        with self.sessions() as session:
            return find_attachment(session, number, attachment_id)

    async def erase_requester(self, email: str, *, actor: Actor) -> ErasureProgress:
        """Erase what ticketflow holds of the person with this address (GDPR Art. 17): their
        tickets closed, then scrubbed, by a workflow; answered as it starts."""
        with _temporal():
            return await erasure.request_erasure(self, email, actor=actor)

    async def erasure(self, erasure_id: str) -> ErasureProgress:
        return await erasure.erasure_progress(self, erasure_id)

    async def export_requester(self, email: str, *, actor: Actor) -> RequesterRecords:
        """What ticketflow holds of the person with this address (GDPR Art. 15)."""
        return await export.export_requester(self, email, actor=actor)

    async def timeline(self, number: str) -> list[TimelineEvent]:
        """The ticket's published timeline (NotFound if there is no such ticket)."""
        await self.read(number)

        def read() -> list[TimelineEvent]:
            with self.sessions() as session:
                return thread.timeline_of(session, number)

        return await in_thread(read)
