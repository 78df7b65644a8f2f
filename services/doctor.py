"""Tickets whose workflow stopped working, found and recovered: a run never fails silently.

A ticket is in trouble when the projection says it is open but its workflow is not running
(terminated, failed or timed out), or when its workflow runs but is wedged: its workflow task
keeps failing, so nothing it owes (a deadline, a command) happens. `ticketflow doctor` lists
them (and exits 1), the admin API's /alerts shows them, and `ticketflow doctor --recover`
starts each again from its projection, as a new run of the same workflow id.
"""

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from services.workflows.starts import start_options
from services.workflows.ticket_workflow import TicketWorkflow
from shared.db.projection import stored_state
from shared.db.tables import TicketRow
from shared.db.threads import in_thread
from shared.domain.enums import TicketStatus
from shared.domain.ids import ticket_workflow_id
from shared.domain.models import TicketInput, TicketState
from shared.settings import Settings

# A workflow task failing this many times in a row is a wedge, not a blip.
WEDGED_ATTEMPTS = 3


@dataclass(frozen=True)
class Problem:
    number: str
    what: str


async def find_problems(
    client: Client, sessions: sessionmaker[Session], *, limit: int = 10_000
) -> list[Problem]:
    """Every open ticket (at most `limit`) whose workflow is not running or is wedged."""

    def open_numbers() -> list[str]:
        with sessions() as session:
            return list(
                session.scalars(
                    select(TicketRow.number)
                    .where(TicketRow.status != TicketStatus.CLOSED.value)
                    .order_by(TicketRow.number)
                    .limit(limit)
                )
            )

    numbers = await in_thread(open_numbers)
    problems = []
    for number in numbers:
        what = await _trouble(client, number)
        if what is not None:
            problems.append(Problem(number, what))
    return problems


async def _trouble(client: Client, number: str) -> str | None:
    handle = client.get_workflow_handle(ticket_workflow_id(number))
    try:
        description = await handle.describe()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return "its workflow is gone"
        raise
    status = description.status
    if status is not WorkflowExecutionStatus.RUNNING:
        name = status.name.lower().replace("_", " ") if status else "unknown"
        return f"its workflow is {name}"
    task = description.raw_description.pending_workflow_task
    if task.attempt >= WEDGED_ATTEMPTS:
        return f"its workflow is wedged: its task failed {task.attempt - 1} times in a row"
    return None


async def recover(
    client: Client, sessions: sessionmaker[Session], settings: Settings, number: str
) -> str:
    """Start the ticket again from its projection; a wedged run is terminated first.

    What the projection holds is what the ticket keeps: a command whose workflow task never
    completed was never answered as applied.
    """

    def projection() -> TicketState | None:
        with sessions() as session:
            return stored_state(session, number)

    stored = await in_thread(projection)
    if stored is None:
        raise LookupError(f"ticket {number} has no projection to recover from")
    what = await _trouble(client, number)
    if what is None:
        return f"{number}: its workflow runs; nothing to do"
    handle = client.get_workflow_handle(ticket_workflow_id(number))
    if "wedged" in what:
        await handle.terminate(reason="ticketflow doctor: recovering a wedged run")
    data = TicketInput.resuming(stored)
    # A run that started meanwhile is kept (USE_EXISTING): it goes on from the same state.
    await client.start_workflow(
        TicketWorkflow.run, data, **start_options(settings, stored, new=False)
    )
    return f"{number}: {what}; started again from its projection (v{stored.version})"
