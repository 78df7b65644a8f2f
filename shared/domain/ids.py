"""The one place where a ticket number (or an erasure's id) becomes a workflow id."""

PREFIX = "ticket-"
ERASURE_PREFIX = "erasure-"


def ticket_workflow_id(number: str) -> str:
    return f"{PREFIX}{number}"


def erasure_workflow_id(erasure_id: str) -> str:
    """Named by the erasure's random id: never by the address it erases."""
    return f"{ERASURE_PREFIX}{erasure_id}"
