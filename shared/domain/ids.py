"""The one place where a ticket number becomes a workflow id, and back."""

PREFIX = "ticket-"


def ticket_workflow_id(number: str) -> str:
    return f"{PREFIX}{number}"


def ticket_number(workflow_id: str) -> str:
    if not workflow_id.startswith(PREFIX):
        raise ValueError(f"not a ticket workflow id: {workflow_id!r}")
    return workflow_id[len(PREFIX) :]
