"""Enumerations shared by every part of ticketflow."""

from enum import StrEnum


class TicketStatus(StrEnum):
    OPEN = "open"
    # Waiting on the requester: the resolution clock is paused.
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    EMERGENCY = "emergency"


class Source(StrEnum):
    WEB = "web"
    API = "api"
    EMAIL = "email"
    PHONE = "phone"
    OTHER = "other"


class Role(StrEnum):
    ADMIN = "admin"
    AGENT = "agent"
    VIEWER = "viewer"


class ThreadKind(StrEnum):
    MESSAGE = "message"
    RESPONSE = "response"
    NOTE = "note"


class Rating(StrEnum):
    """The requester's satisfaction with a closed ticket."""

    GOOD = "good"
    BAD = "bad"


class ActorKind(StrEnum):
    AGENT = "agent"
    REQUESTER = "requester"
    SYSTEM = "system"
    # A service account (an API key): acts like an agent in commands, named by the key.
    INTEGRATION = "integration"


class Action(StrEnum):
    """A command a person or system can give a ticket."""

    ASSIGN = "assign"
    CHANGE_PRIORITY = "change_priority"
    TRANSFER = "transfer"
    RESPOND = "respond"
    NOTE = "note"
    REQUESTER_REPLY = "requester_reply"
    SET_PENDING = "set_pending"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"
    # External references (jira:OPS-12): add or replace one, remove one.
    LINK = "link"
    UNLINK = "unlink"
    # The requester's: rate a closed ticket (once per closure); mail me my ticket's link.
    RATE = "rate"
    SEND_LINK = "send_link"


class OnDuplicateRef(StrEnum):
    """What a create does when one of its external references is on a ticket already."""

    RETURN = "return"  # answer that ticket (200): an integration's retry finds its ticket
    REJECT = "reject"  # 409, naming that ticket
    CREATE = "create"  # a new ticket anyway, without the references other tickets hold


class EventKind(StrEnum):
    CREATED = "created"
    ASSIGNED = "assigned"
    PRIORITY_CHANGED = "priority_changed"
    TRANSFERRED = "transferred"
    RESPONDED = "responded"
    NOTED = "noted"
    REQUESTER_REPLIED = "requester_replied"
    ESCALATED = "escalated"
    SLA_WARNING = "sla_warning"
    SLA_REMINDER = "sla_reminder"
    PENDING = "pending"
    PENDING_REMINDER = "pending_reminder"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    AUTO_CLOSED = "auto_closed"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_FAILED = "notification_failed"
    REJECTED = "rejected"
    LINKED = "linked"
    UNLINKED = "unlinked"
    RATED = "rated"
    LINK_SENT = "link_sent"


class SlaClock(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class ClockOutcome(StrEnum):
    RUNNING = "running"
    MET = "met"  # stopped by its action before the due time
    LATE = "late"  # stopped by its action after the breach
    CANCELLED = "cancelled"  # the ticket closed (or resolved) without that action


class NotificationKind(StrEnum):
    TICKET_RECEIVED = "ticket_received"
    RESPONSE = "response"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    ASSIGNED = "assigned"
    TRANSFERRED = "transferred"
    ESCALATION = "escalation"
    SLA_WARNING = "sla_warning"
    PENDING_REMINDER = "pending_reminder"
    REQUESTER_REPLIED = "requester_replied"
    # To the requester, asked for on the portal's status page: a fresh link to the ticket.
    TICKET_LINK = "ticket_link"
    # To the admins, about no ticket: a webhook subscription was disabled after failing.
    WEBHOOK_DISABLED = "webhook_disabled"
    # To an agent, about no ticket: the link to set their password (an admin's invite).
    AGENT_INVITE = "agent_invite"


class Channel(StrEnum):
    EMAIL = "email"
    LOG = "log"


class DeliveryStatus(StrEnum):
    QUEUED = "queued"  # in the outbox, waiting for the notify service's delivery loop
    PENDING = "pending"  # an attempt is under way
    SENT = "sent"
    FAILED = "failed"  # the last attempt failed; retried with backoff
    UNDELIVERABLE = "undeliverable"  # gave up: an alert for admins


class RecipientRole(StrEnum):
    REQUESTER = "requester"
    AGENT = "agent"
    ASSIGNEE = "assignee"
    TEAM_LEAD = "team_lead"
    DEPARTMENT_MANAGER = "department_manager"
    # Every member of the team named by the recipient's handle.
    TEAM = "team"
