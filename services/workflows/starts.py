"""How a ticket's workflow run is started: one set of options for a new ticket and for a run
that goes on from a stored state (a reopened closed ticket, a recovered one)."""

from typing import Any

from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from services.workflows.ticket_workflow import WORKFLOW_TASK_TIMEOUT
from shared.domain.ids import ticket_workflow_id
from shared.domain.models import TicketState
from shared.settings import Settings
from shared.temporal import search_attributes as sa


def start_options(settings: Settings, state: TicketState, *, new: bool) -> dict[str, Any]:
    """Keyword arguments of `start_workflow` (or `WithStartWorkflowOperation`) for the run
    whose state is `state` at its start.

    A new ticket's id is never reused (a closed ticket keeps its number for good) and a retried
    create finds the running workflow; a further run takes the id of a closed one.
    """
    return {
        "id": ticket_workflow_id(state.number),
        "task_queue": settings.temporal_task_queue,
        "id_conflict_policy": WorkflowIDConflictPolicy.USE_EXISTING,
        "id_reuse_policy": (
            WorkflowIDReusePolicy.REJECT_DUPLICATE if new else WorkflowIDReusePolicy.ALLOW_DUPLICATE
        ),
        "task_timeout": WORKFLOW_TASK_TIMEOUT,
        "search_attributes": sa.pairs(sa.values(state)),
        "static_summary": f"#{state.number} {state.subject}",
        "static_details": f"Requester: {state.requester.name}\n\nHelp topic: {state.help_topic}",
    }
