"""The erasure and retention workflows' activities: close a ticket through the ticket service
and wait until its workflow has ended, scrub what the database and the blob store hold of its
requester, and the look-ups around them. Each is safe to run again."""

import asyncio
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import WorkflowExecutionStatus
from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from services.tickets.commands import CommandRequest
from services.tickets.errors import Conflict, NotFound
from services.tickets.service import Tickets
from shared.blobs import BlobStore
from shared.db import erasures, requesters, scrub
from shared.db.tables import TicketRow
from shared.db.threads import in_thread
from shared.domain.enums import Action, TicketStatus
from shared.domain.erasure import ERASER, ExpiredPage
from shared.domain.ids import ticket_workflow_id

DESCRIBE_TIMEOUT = timedelta(seconds=10)
# A closed ticket's workflow ends within moments (its last publish): looked at this often, for
# this long, before the attempt gives up and the retry policy takes over.
SETTLE_POLL = 0.2
SETTLE_WAIT = 5.0


class ErasureActivities:
    """Holds the ticket service (the worker's Temporal client, database and settings) and the
    blob store; the worker builds one."""

    def __init__(self, tickets: Tickets, blobs: BlobStore) -> None:
        self._tickets = tickets
        self._sessions = tickets.sessions
        self._blobs = blobs

    @activity.defn(name="erasure_tickets")
    def requester_tickets(self, erasure_id: str) -> list[str]:
        """The tickets of the erasure's address, noted on the erasure (none once it is done)."""
        with self._sessions.begin() as session:
            email = erasures.address_of(session, erasure_id)
            if email is None:
                return []
            found = requesters.ticket_numbers(session, email)
            return erasures.note_tickets(session, erasure_id, found)

    @activity.defn(name="settle_ticket")
    async def settle_ticket(self, number: str) -> None:
        """Close ticket `number` through the ticket service and return once its workflow has
        ended with the ticket closed; until then fail, to be tried again (a ticket reopened
        meanwhile is closed again by the next try, under a key of its own)."""
        if await self._settled(number):
            return
        activity.heartbeat()
        info = activity.info()
        key = f"{info.workflow_id}:{number}:{info.attempt}"
        try:
            await self._tickets.command(CommandRequest(number, ERASER, Action.CLOSE, key=key))
        except Conflict:
            pass  # closed already, or changing under us: looked at again below
        except NotFound:
            return
        for _ in range(int(SETTLE_WAIT / SETTLE_POLL)):
            activity.heartbeat()
            if await self._settled(number):
                return
            await asyncio.sleep(SETTLE_POLL)
        raise ApplicationError(f"ticket {number}'s workflow has not ended yet", type="NotSettled")

    @activity.defn(name="scrub_ticket")
    async def scrub_ticket(self, number: str) -> bool:
        """Erase the personal data of ticket `number` from the blob store and the database,
        then its workflow's data key; False (nothing erased, or not the key) if its workflow
        runs: a command restarted it, and it must be closed and settled again."""
        workflow_id = ticket_workflow_id(number)
        if await self._running(workflow_id):
            return False
        # The files first: were the rows gone first, a crash in between would leave contents
        # that no row leads to any more.
        for digest in sorted(await in_thread(self._unshared_digests, number)):
            activity.heartbeat()
            await in_thread(self._blobs.delete, digest)
        activity.heartbeat()
        await in_thread(self._scrub_rows, number)
        # From here on the stored state is erased and nothing restarts the ticket from it
        # (services.tickets.commands); one restarted just before is caught here, before its
        # key goes (a running workflow whose key is gone could not go on).
        if await self._running(workflow_id):
            return False
        await in_thread(self._erase_key, number)
        return True

    @activity.defn(name="forget_requester")
    def forget_requester(self, erasure_id: str) -> None:
        """The address's rows outside its tickets; then the erasure is done and forgets it."""
        with self._sessions.begin() as session:
            email = erasures.address_of(session, erasure_id)
            if email is not None:
                scrub.scrub_address(session, email)
            erasures.finish(session, erasure_id, datetime.now(UTC))

    @activity.defn(name="expired_tickets")
    def expired_tickets(self, page: ExpiredPage) -> list[str]:
        with self._sessions() as session:
            return scrub.expired_tickets(
                session, cutoff=page.cutoff, after=page.after, limit=page.limit
            )

    @activity.defn(name="scrub_old_mail")
    def scrub_old_mail(self, cutoff: datetime) -> int:
        with self._sessions.begin() as session:
            return scrub.scrub_old_mail(session, cutoff)

    def _unshared_digests(self, number: str) -> set[str]:
        with self._sessions() as session:
            return scrub.unshared_digests(session, number)

    def _scrub_rows(self, number: str) -> None:
        with self._sessions.begin() as session:
            scrub.scrub_ticket(session, number)

    def _erase_key(self, number: str) -> None:
        with self._sessions.begin() as session:
            scrub.erase_key(session, number, datetime.now(UTC))

    async def _settled(self, number: str) -> bool:
        """Its workflow has ended and the ticket is closed (or there is no such ticket)."""
        if await self._running(ticket_workflow_id(number)):
            return False
        status = await in_thread(self._status, number)
        return status is None or status == TicketStatus.CLOSED.value

    def _status(self, number: str) -> str | None:
        with self._sessions() as session:
            row = session.get(TicketRow, number)
            return None if row is None else row.status

    async def _running(self, workflow_id: str) -> bool:
        """Whether the workflow runs, asked without decoding anything of it (its payloads may
        be beyond reading once its key is erased)."""
        client = self._tickets.client
        request = DescribeWorkflowExecutionRequest(
            namespace=client.namespace, execution=WorkflowExecution(workflow_id=workflow_id)
        )
        try:
            described = await client.workflow_service.describe_workflow_execution(
                request, timeout=DESCRIBE_TIMEOUT
            )
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        running = WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_RUNNING
        return described.workflow_execution_info.status == running
