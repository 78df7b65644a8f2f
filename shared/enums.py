"""Enumerations shared by every part of ticketflow."""

from enum import StrEnum


class TicketStatus(StrEnum):
    OPEN = "open"
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


class ActorKind(StrEnum):
    AGENT = "agent"
    REQUESTER = "requester"
    SYSTEM = "system"


class Action(StrEnum):
    """A command a person or system can give a ticket."""

    ASSIGN = "assign"
    CHANGE_PRIORITY = "change_priority"
    TRANSFER = "transfer"
    RESPOND = "respond"
    NOTE = "note"
    REQUESTER_REPLY = "requester_reply"
    RESOLVE = "resolve"
    CLOSE = "close"
    REOPEN = "reopen"


class EventKind(StrEnum):
    CREATED = "created"
    ASSIGNED = "assigned"
    PRIORITY_CHANGED = "priority_changed"
    TRANSFERRED = "transferred"
    RESPONDED = "responded"
    NOTED = "noted"
    REQUESTER_REPLIED = "requester_replied"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    AUTO_CLOSED = "auto_closed"
    NOTIFICATION_SENT = "notification_sent"
    NOTIFICATION_FAILED = "notification_failed"
    REJECTED = "rejected"


class SlaClock(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class NotificationKind(StrEnum):
    TICKET_RECEIVED = "ticket_received"
    RESPONSE = "response"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    ASSIGNED = "assigned"
    TRANSFERRED = "transferred"
    ESCALATION = "escalation"
    REQUESTER_REPLIED = "requester_replied"


class Channel(StrEnum):
    EMAIL = "email"
    LOG = "log"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class RecipientRole(StrEnum):
    REQUESTER = "requester"
    AGENT = "agent"
    ASSIGNEE = "assignee"
    TEAM_LEAD = "team_lead"
    DEPARTMENT_MANAGER = "department_manager"
