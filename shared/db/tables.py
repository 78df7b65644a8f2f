"""SQLAlchemy tables: reference data, the ticket projection and the notification log."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class AgentRow(Base):
    __tablename__ = "agents"

    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    # sha256 of the bearer token; the token itself is shown once and never stored.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Signing in (shared.db.passwords, shared.db.two_factor): the argon2id hash of the
    # password (None: no password sign-in); the two-factor secret once confirmed, and one set
    # up but not yet confirmed; the last TOTP time step a code was accepted for (none is
    # accepted twice).
    password_hash: Mapped[str | None] = mapped_column(String(200))
    # Sealed under ENCRYPTION_KEYS (shared/db/two_factor.py).
    totp_secret: Mapped[str | None] = mapped_column(String(200))
    totp_pending_secret: Mapped[str | None] = mapped_column(String(200))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)


class AgentSessionRow(Base):
    """An agent signed in (with a password or OIDC): the session token's hash, its absolute
    end, and the idle time after which it ends; deleted when it ends (sign-out, expiry)."""

    __tablename__ = "agent_sessions"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_agent_sessions_token_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str] = mapped_column(ForeignKey("agents.handle"), index=True)
    method: Mapped[str] = mapped_column(String(16))  # password | oidc
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Noted at most once a minute (shared.db.agent_sessions.LAST_SEEN_PRECISION).
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    idle_seconds: Mapped[int] = mapped_column(Integer)
    # An admin without two-factor where it is required: only /api/v1/auth/* until enrolled.
    must_enrol_two_factor: Mapped[bool] = mapped_column(Boolean, default=False)


class SignInFailureRow(Base):
    """One wrong sign-in try (or wrong two-factor code), counted per account (the address
    tried, lower-cased) and per client (its address) within the throttling window."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (
        Index("ix_sign_in_failures_account", "account", "at"),
        Index("ix_sign_in_failures_client", "client", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    account: Mapped[str] = mapped_column(String(320))
    client: Mapped[str] = mapped_column(String(64))


class AgentInviteRow(Base):
    """A one-time link for an agent to set a password: only its token's hash is kept."""

    __tablename__ = "agent_invites"
    __table_args__ = (UniqueConstraint("token_hash", name="uq_agent_invites_token_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    agent: Mapped[str] = mapped_column(ForeignKey("agents.handle"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Set when the password was set through it, or when a newer invite replaced it.
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RecoveryCodeRow(Base):
    """One of an agent's two-factor recovery codes (its hash), good once in place of a code."""

    __tablename__ = "agent_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent: Mapped[str] = mapped_column(ForeignKey("agents.handle"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ScheduleRow(Base):
    """Business hours: weekly opening intervals in a time zone, and holidays."""

    __tablename__ = "schedules"

    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The JSON of shared.domain.business_time.Schedule (timezone, weekly hours, holidays).
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)


class DepartmentRow(Base):
    __tablename__ = "departments"

    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    manager: Mapped[str | None] = mapped_column(ForeignKey("agents.handle"))
    # A department's schedule wins over its tickets' SLA plan's.
    schedule: Mapped[str | None] = mapped_column(ForeignKey("schedules.handle"))


class TeamRow(Base):
    __tablename__ = "teams"

    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    lead: Mapped[str | None] = mapped_column(ForeignKey("agents.handle"))


class TeamMemberRow(Base):
    __tablename__ = "team_members"

    team: Mapped[str] = mapped_column(ForeignKey("teams.handle"), primary_key=True)
    agent: Mapped[str] = mapped_column(ForeignKey("agents.handle"), primary_key=True)


class SlaPlanRow(Base):
    __tablename__ = "sla_plans"

    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # ISO-8601 durations, e.g. "PT4H".
    first_response: Mapped[str] = mapped_column(String(64))
    resolution: Mapped[str] = mapped_column(String(64))
    auto_close: Mapped[str] = mapped_column(String(64))
    by_priority: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    next_response: Mapped[str | None] = mapped_column(String(64))
    schedule: Mapped[str | None] = mapped_column(ForeignKey("schedules.handle"))
    # Per clock, the escalation ladder (warnings and levels); JSON of shared.domain.models.Ladder.
    ladders: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default="{}")


class HelpTopicRow(Base):
    __tablename__ = "help_topics"

    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(ForeignKey("departments.handle"))
    sla_plan: Mapped[str] = mapped_column(ForeignKey("sla_plans.handle"))
    priority: Mapped[str] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(ForeignKey("teams.handle"))
    agent: Mapped[str | None] = mapped_column(ForeignKey("agents.handle"))
    # What requesters read: beside the topic's name, and beside its choice on a new ticket.
    description: Mapped[str | None] = mapped_column(String(500))
    instructions: Mapped[str | None] = mapped_column(String(2000))
    # An inactive topic is offered to no one and takes no new tickets; its tickets go on.
    active: Mapped[bool] = mapped_column(Boolean, server_default=true(), default=True)


QUEUE_INDEX = (
    "status",
    "assignee",
    "overdue",
    "next_due_at",
    "created_at",
    "updated_at",
    "team",
    "priority",
    "department",
    "help_topic",
    "number",
)


class TicketRow(Base):
    """The read model of a ticket, written only by the workflow's `publish_ticket` activity."""

    __tablename__ = "tickets"
    __table_args__ = (
        # The console's queues: each view's filters and sort keys (all but the text search),
        # so that a page's and a count's queries read this index alone, never the rows and
        # their large states.
        Index("ix_tickets_queue", *QUEUE_INDEX),
        # The requester filter and erasure compare addresses case aside.
        Index("ix_tickets_requester_email_lower", func.lower(text("requester_email"))),
    )

    number: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), index=True)
    priority: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(16))
    requester_name: Mapped[str] = mapped_column(String(200))
    requester_email: Mapped[str] = mapped_column(String(320), index=True)
    help_topic: Mapped[str] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64), index=True)
    team: Mapped[str | None] = mapped_column(String(64), index=True)
    assignee: Mapped[str | None] = mapped_column(String(64), index=True)
    sla_plan: Mapped[str] = mapped_column(String(64))
    first_response_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_due: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The earliest due time of a running clock neither paused nor breached (the queues'
    # "breaching soon" and their sort by due time).
    next_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    overdue: Mapped[bool] = mapped_column(Boolean, index=True)
    escalation_level: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The full TicketState as JSON, for reads when the workflow cannot be asked.
    state: Mapped[dict[str, Any]] = mapped_column(JSON)


class TicketKeyRow(Base):
    """A ticket's creation key (Idempotency-Key scoped by requester) and the ticket it made.

    The row's id is the ticket's number (less an offset): numbers come from the database in
    order, six digits first and more as they run out. Written by the intake before the
    ticket's workflow starts, so that a retried create finds the same ticket for ever.
    """

    __tablename__ = "ticket_keys"
    __table_args__ = (UniqueConstraint("key_hash", name="uq_ticket_keys_key_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    # What the create asked for: the same key with another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DataKeyRow(Base):
    """The data key that encrypts one ticket's Temporal payloads (or the shared one, for those
    of no workflow), wrapped under a key-encryption key from ENCRYPTION_KEYS.

    Erased (GDPR), the row stays as a tombstone without its key: what the key encrypted
    cannot be read again, and nothing new is encrypted for that scope.
    """

    __tablename__ = "data_keys"
    __table_args__ = (UniqueConstraint("scope", name="uq_data_keys_scope"),)

    # The key id payloads carry in their metadata: random, so a key made again for a scope
    # (in another database) is never mistaken for an earlier one.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scope: Mapped[str] = mapped_column(String(255))  # a workflow id, or "shared"
    kek_id: Mapped[str | None] = mapped_column(String(32), index=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class MessageBodyRow(Base):
    """The text of one thread message, stored by the intake before the command that adds it.

    Workflows carry only the id and size; a body whose command was refused is never shown.
    """

    __tablename__ = "message_bodies"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(16), index=True)
    body: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ThreadRow(Base):
    """One entry of a ticket's thread, published by its workflow."""

    __tablename__ = "ticket_thread"

    ticket: Mapped[str] = mapped_column(String(16), primary_key=True)
    entry: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    author: Mapped[dict[str, Any]] = mapped_column(JSON)
    message_id: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # A requester's message whose sender is not proven (ThreadEntry.unverified).
    unverified: Mapped[bool] = mapped_column(Boolean, server_default=false(), default=False)


class TimelineRow(Base):
    """One event of a ticket's timeline, published by its workflow."""

    __tablename__ = "ticket_timeline"

    ticket: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event: Mapped[dict[str, Any]] = mapped_column(JSON)


class NotificationRow(Base):
    """One delivery of the notify service; the idempotency key makes a retry a no-op."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_notifications_key"),
        # The outbox looks for undelivered ones; its metrics count them and find the oldest.
        Index("ix_notifications_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    ticket: Mapped[str] = mapped_column(String(16), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    recipient_name: Mapped[str] = mapped_column(String(200))
    recipient_email: Mapped[str] = mapped_column(String(320))
    channel: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The Message-ID it was mailed with (set once sent): a reply's In-Reply-To finds its ticket.
    message_id: Mapped[str | None] = mapped_column(String(320), index=True)
    # The span that queued it (W3C traceparent; ids only): its delivery's span is a child.
    traceparent: Mapped[str | None] = mapped_column(String(55))


class SlaClockFactRow(Base):
    """One run of one SLA clock of a ticket, recorded by the `publish_ticket` activity."""

    __tablename__ = "sla_clock_facts"
    __table_args__ = (
        Index("ix_sla_clock_facts_stopped", "clock", "stopped_at"),
        Index("ix_sla_clock_facts_started", "clock", "started_at"),
        # The agents report counts breaches by when they happened, whatever the clock.
        Index("ix_sla_clock_facts_breached", "breached_at"),
    )

    ticket: Mapped[str] = mapped_column(String(16), primary_key=True)
    clock: Mapped[str] = mapped_column(String(32), primary_key=True)
    cycle: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    target_seconds: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    stopped_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # running | met (stopped by its action in time) | late (stopped by it after the breach)
    # | cancelled (the ticket closed without the action)
    outcome: Mapped[str] = mapped_column(String(16))
    breached: Mapped[bool] = mapped_column(Boolean)
    breached_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Elapsed business time (paused time excluded) and wall time, set when the clock stops.
    business_seconds: Mapped[int | None] = mapped_column(Integer)
    wall_seconds: Mapped[int | None] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(String(64))
    assignee: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    help_topic: Mapped[str] = mapped_column(String(64))


class TicketEventFactRow(Base):
    """A lifecycle event of a ticket (created, assigned, responded, resolved, reopened, …)."""

    __tablename__ = "ticket_event_facts"
    __table_args__ = (Index("ix_ticket_event_facts_kind_at", "kind", "at"),)

    ticket: Mapped[str] = mapped_column(String(16), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The agent who acted (None for the requester or the system).
    actor: Mapped[str | None] = mapped_column(String(64))
    # The ticket's dimensions right after the event.
    assignee: Mapped[str | None] = mapped_column(String(64))
    team: Mapped[str | None] = mapped_column(String(64))
    department: Mapped[str] = mapped_column(String(64))
    help_topic: Mapped[str] = mapped_column(String(64))
    priority: Mapped[str] = mapped_column(String(16))
    # A rating (kind "rated"): good or bad, and the message id of its comment, if any.
    rating: Mapped[str | None] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(String(64))


class FeedEventRow(Base):
    """One integration event in the change feed, published with its ticket's timeline.

    The feed's total order is (`txid`, `position`): on PostgreSQL `txid` is the publishing
    transaction's id, and a reader only takes rows of transactions older than every one still
    running, so that a row can never appear behind a cursor that has passed it. SQLite has one
    writer at a time: `txid` is 0 there and `position` alone is the order.
    """

    __tablename__ = "ticket_events"
    __table_args__ = (
        UniqueConstraint("event_id", name="uq_ticket_events_event_id"),
        Index("ix_ticket_events_order", "txid", "position"),
    )

    position: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    txid: Mapped[int] = mapped_column(BigInteger, default=0)
    event_id: Mapped[str] = mapped_column(String(40))
    ticket: Mapped[str] = mapped_column(String(16), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    internal: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The span that published it (W3C traceparent; never served): its webhooks' spans' parent.
    traceparent: Mapped[str | None] = mapped_column(String(55))


class InboundMailRow(Base):
    """One message received by mail-in, and what became of it (the admin's inbound log).

    The first delivery of a Message-ID holds its `dedupe_key`; a later delivery of the same
    message gets a row of its own with outcome `duplicate` and no key. A row left `received`
    (a crash, or a dependency down) is completed by the message's redelivery.
    """

    __tablename__ = "inbound_mail"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_inbound_mail_dedupe_key"),
        Index("ix_inbound_mail_sender_received", "mail_from", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # sha256 of the Message-ID (of the raw message when it has none).
    dedupe_key: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(Text)
    mail_from: Mapped[str] = mapped_column(String(320))
    rcpt_to: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str | None] = mapped_column(Text)
    ticket: Mapped[str | None] = mapped_column(String(16), index=True)
    # [{filename, content_type, size}]: recorded only, until attachments are stored.
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ApiKeyRow(Base):
    """A service account's API key: its secret is shown once, only its hash is kept."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("secret_hash", name="uq_api_keys_secret_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    # sha256 of the secret (`tfk_…`), as for agents' tokens.
    secret_hash: Mapped[str] = mapped_column(String(64))
    # The secret's first characters, to recognise a key in a listing without revealing it.
    prefix: Mapped[str] = mapped_column(String(16))
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Updated at most once a minute per key, not on every request.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditEntryRow(Base):
    """One admin change: who changed which record, when, and what changed (never a secret).

    Written in the transaction of the change itself."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_kind", "entity_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Who: an agent (kind agent, handle), a key (kind integration, handle key:<id>) or a
    # command-line tool (kind system).
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_handle: Mapped[str | None] = mapped_column(String(64))
    actor_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(32))
    entity_kind: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(100))
    summary: Mapped[str] = mapped_column(Text)
    # Field -> [before, after] (JSON values; a secret is shown as "(changed)").
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)


class TicketExternalRefRow(Base):
    """An external reference (jira:OPS-12) a ticket holds, published by its workflow: the
    list filter `?external=system:id` and the lookups of creates read it."""

    __tablename__ = "ticket_external_refs"

    # The key is the reference: unique, one ticket each.
    system: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(16), index=True)
    url: Mapped[str | None] = mapped_column(String(2000))


class ExternalRefClaimRow(Base):
    """Which ticket an external reference belongs to, recorded by the intake before the create
    or link that attaches it, so that no two tickets ever get the same reference (the
    projection above follows once the workflow has applied it). A claim the ticket never took
    up (its link was refused) is taken over once its request is over for certain."""

    __tablename__ = "external_ref_claims"

    system: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(16), index=True)
    claimed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AttachmentRow(Base):
    """A file attached to a thread message: its metadata, stored by the intake (or the mail-in
    path) with the message body, before the command that adds the message.

    The content is in the blob store under `sha256`. Like a body, a file whose command was
    refused is never shown: reads list a message's files only once the message is in the thread.
    """

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_ticket_message", "ticket", "message_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ticket: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(64))
    # Its place among the message's files, for the order they were sent in.
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookSubscriptionRow(Base):
    """Where an integration wants ticket events POSTed, signed with its secret.

    `cursor_txid`/`cursor_position` is the change-feed cursor up to which the dispatcher has
    queued this subscription's deliveries; it moves in the same transaction as they are queued.
    On PostgreSQL a new subscription's cursor is the feed's settled end, which events committed
    just before it may follow: `start_snapshot` tells them apart.
    The secret signs every delivery, so it is kept as given (never shown after creation).
    """

    __tablename__ = "webhook_subscriptions"
    __table_args__ = (UniqueConstraint("handle", name="uq_webhook_subscriptions_handle"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    handle: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(String(200))
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)
    help_topics: Mapped[list[str]] = mapped_column(JSON, default=list)
    include_internal: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cursor_txid: Mapped[int] = mapped_column(BigInteger, default=0)
    cursor_position: Mapped[int] = mapped_column(BigInteger, default=0)
    # PostgreSQL, a subscription "from now": the snapshot at its creation. Events of the
    # transactions it saw committed are history, skipped; later ones are delivered.
    start_snapshot: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class WebhookDeliveryRow(Base):
    """One event to POST to one subscription. A subscription's deliveries of one ticket go
    out one at a time, oldest (lowest id) first; a claim is a conditional update."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The feed queues an event once per subscription; replays add rows beside it.
        Index(
            "uq_webhook_deliveries_feed",
            "subscription_id",
            "event_id",
            unique=True,
            sqlite_where=text("replay IS NULL"),
            postgresql_where=text("replay IS NULL"),
        ),
        Index("ix_webhook_deliveries_lane", "subscription_id", "ticket", "status", "id"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE")
    )
    event_id: Mapped[str] = mapped_column(String(40))
    ticket: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(40))
    webhook_id: Mapped[str] = mapped_column(String(120))
    replay: Mapped[str | None] = mapped_column(String(16))  # the replay's token, if one
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When it may be sent; None while an older delivery of its ticket is open (it becomes
    # due when that one is settled), so that only the heads of the tickets are ever due.
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    first_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebhookAttemptRow(Base):
    """One POST of a delivery: written when it starts, completed with its answer. One left
    without an answer was cut short (its process stopped) and is marked so when retried."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    finished: Mapped[bool] = mapped_column(Boolean, default=False)


class ErasureRow(Base):
    """One erasure of a requester's personal data on request (GDPR Art. 17), carried out by
    its `ErasureWorkflow`, which this row is the only link of to the person.

    The address is kept only while the erasure runs (the workflow's history never holds it)
    and cleared when it is done; `requester_ref` (a keyed hash) names the person after that.
    """

    __tablename__ = "erasures"
    __table_args__ = (UniqueConstraint("pending", name="uq_erasures_pending"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    requester_ref: Mapped[str] = mapped_column(String(64), index=True)
    email: Mapped[str | None] = mapped_column(String(320))
    # The person's ref while the erasure runs, None after: a request for a person whose
    # erasure is under way joins it.
    pending: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # shared.domain.erasure.ErasureStatus
    # The tickets it erases, once its workflow has looked them up.
    tickets: Mapped[list[str] | None] = mapped_column(JSON)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
