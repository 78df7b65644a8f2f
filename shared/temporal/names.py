"""Temporal names shared by the intake service, the worker and other clients."""

from shared.domain.enums import Action

# The lean core's workflow type. "TicketWorkflow" ran before it: such a ticket moves on with
# `ticketflow doctor --recover` (tests/workflows/test_v1_values.py pins what it relies on).
WORKFLOW = "Ticket"

# Erasing a requester's personal data on request, and tickets' past RETENTION_DAYS (GDPR):
# the workflows, and the schedule that starts the latter daily.
ERASURE_WORKFLOW = "Erasure"
RETENTION_WORKFLOW = "Retention"
RETENTION_SCHEDULE = "ticketflow-retention"

# Signals: one per command, so any Temporal client can drive a ticket by name.
SIGNAL_ASSIGN = "assign"
SIGNAL_CHANGE_PRIORITY = "change_priority"
SIGNAL_TRANSFER = "transfer"
SIGNAL_RESPOND = "respond"
SIGNAL_NOTE = "note"
SIGNAL_REQUESTER_REPLY = "requester_reply"
SIGNAL_SET_PENDING = "set_pending"
SIGNAL_RESOLVE = "resolve"
SIGNAL_CLOSE = "close"
SIGNAL_REOPEN = "reopen"
SIGNAL_LINK = "link"
SIGNAL_UNLINK = "unlink"
SIGNAL_RATE = "rate"
SIGNAL_SEND_LINK = "send_link"

# The validated path: an update whose validator runs the state machine. The HTTP API sends each
# command as the update named for its action (the history reads like the ticket's story);
# "execute" takes any action.
UPDATE_EXECUTE = "execute"
UPDATE_ASSIGN = "update.assign"
UPDATE_CHANGE_PRIORITY = "update.change_priority"
UPDATE_TRANSFER = "update.transfer"
UPDATE_RESPOND = "update.respond"
UPDATE_NOTE = "update.note"
UPDATE_REQUESTER_REPLY = "update.requester_reply"
UPDATE_SET_PENDING = "update.set_pending"
UPDATE_RESOLVE = "update.resolve"
UPDATE_CLOSE = "update.close"
UPDATE_REOPEN = "update.reopen"
UPDATE_LINK = "update.link"
UPDATE_UNLINK = "update.unlink"
UPDATE_RATE = "update.rate"
UPDATE_SEND_LINK = "update.send_link"
UPDATES: dict[Action, str] = {
    Action.ASSIGN: UPDATE_ASSIGN,
    Action.CHANGE_PRIORITY: UPDATE_CHANGE_PRIORITY,
    Action.TRANSFER: UPDATE_TRANSFER,
    Action.RESPOND: UPDATE_RESPOND,
    Action.NOTE: UPDATE_NOTE,
    Action.REQUESTER_REPLY: UPDATE_REQUESTER_REPLY,
    Action.SET_PENDING: UPDATE_SET_PENDING,
    Action.RESOLVE: UPDATE_RESOLVE,
    Action.CLOSE: UPDATE_CLOSE,
    Action.REOPEN: UPDATE_REOPEN,
    Action.LINK: UPDATE_LINK,
    Action.UNLINK: UPDATE_UNLINK,
    Action.RATE: UPDATE_RATE,
    Action.SEND_LINK: UPDATE_SEND_LINK,
}


def update_for(action: Action) -> str:
    return UPDATES[action]


QUERY_STATE = "state"
# The ticket as the API shows it (TicketView): small, without the state's carried baggage.
QUERY_VIEW = "view"

# Search attributes (registered on the server at start-up).
SA_STATUS = "TicketStatus"
SA_PRIORITY = "TicketPriority"
SA_ASSIGNEE = "TicketAssignee"
SA_TEAM = "TicketTeam"
SA_DEPARTMENT = "TicketDepartment"
SA_HELP_TOPIC = "TicketHelpTopic"
SA_OVERDUE = "TicketOverdue"
SA_NEXT_DUE_AT = "TicketNextDueAt"
SA_SLA_BREACHED = "TicketSlaBreached"
# The ticket's external references as `system:id` (jira:OPS-12): TicketExternalRef = 'jira:OPS-12'.
SA_EXTERNAL_REF = "TicketExternalRef"

KEYWORD_ATTRIBUTES = (SA_STATUS, SA_PRIORITY, SA_ASSIGNEE, SA_TEAM, SA_DEPARTMENT, SA_HELP_TOPIC)
BOOL_ATTRIBUTES = (SA_OVERDUE, SA_SLA_BREACHED)
DATETIME_ATTRIBUTES = (SA_NEXT_DUE_AT,)
KEYWORD_LIST_ATTRIBUTES = (SA_EXTERNAL_REF,)
