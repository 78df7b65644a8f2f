"""A ticket as it is now: from its workflow, else from its projection."""

from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import WorkflowQueryFailedError
from temporalio.service import RPCError, RPCStatusCode

from services.tickets.backends import Backends
from services.tickets.errors import NotFound, Unavailable
from services.workflows.ticket_workflow import TicketWorkflow
from shared.db.projection import stored_state
from shared.db.threads import in_thread
from shared.domain.enums import TicketStatus
from shared.domain.erasure import is_erased
from shared.domain.ids import ticket_workflow_id
from shared.domain.models import TicketState, TicketView
from shared.settings import Settings
from shared.temporal.client import unreachable


async def read_view(backends: Backends, number: str) -> TicketView:
    """The ticket as it is now: from its workflow, else (closed, Temporal down, or its
    workflow failing to answer: a task that fails, say) the projection."""
    client, sessions, settings = backends.client, backends.sessions, backends.settings
    handle = client.get_workflow_handle_for(TicketWorkflow.run, ticket_workflow_id(number))
    try:
        view = await handle.query(TicketWorkflow.view, rpc_timeout=rpc_timeout(settings))
    except (RPCError, WorkflowQueryFailedError, RuntimeError) as err:
        if isinstance(err, RuntimeError) and not unreachable(err):
            raise
        stored = await in_thread(stored_state_of, sessions, number)
        if stored is not None:
            return TicketView.of(stored)
        if isinstance(err, RPCError) and err.status is RPCStatusCode.NOT_FOUND:
            raise NotFound(f"ticket {number}") from err
        raise Unavailable("temporal") from err
    if view.status is TicketStatus.CLOSED:
        # An erased ticket's history may still be read for a while (its key cached in a
        # worker): the projection, erased, has the last word.
        stored = await in_thread(stored_state_of, sessions, number)
        if stored is not None and is_erased(stored):
            return TicketView.of(stored)
    return view


def stored_state_of(sessions: sessionmaker[Session], number: str) -> TicketState | None:
    with sessions() as session:
        return stored_state(session, number)


def rpc_timeout(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.temporal_rpc_timeout_seconds)
