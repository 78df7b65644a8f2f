"""The one place where a ticket number becomes a workflow id."""

PREFIX = "ticket-"


def ticket_workflow_id(number: str) -> str:
    return f"{PREFIX}{number}"
