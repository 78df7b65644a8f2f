"""SQLAlchemy tables: reference data, the ticket projection and the notification log."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Agent(Base):
    __tablename__ = "agents"

    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    # sha256 of the bearer token; the token itself is shown once and never stored.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Department(Base):
    __tablename__ = "departments"

    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    manager: Mapped[str | None] = mapped_column(ForeignKey("agents.handle"))


class Team(Base):
    __tablename__ = "teams"

    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    lead: Mapped[str | None] = mapped_column(ForeignKey("agents.handle"))


class TeamMember(Base):
    __tablename__ = "team_members"

    team: Mapped[str] = mapped_column(ForeignKey("teams.handle"), primary_key=True)
    agent: Mapped[str] = mapped_column(ForeignKey("agents.handle"), primary_key=True)


class SlaPlan(Base):
    __tablename__ = "sla_plans"

    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # ISO-8601 durations, e.g. "PT4H".
    first_response: Mapped[str] = mapped_column(String(64))
    resolution: Mapped[str] = mapped_column(String(64))
    auto_close: Mapped[str] = mapped_column(String(64))
    by_priority: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class HelpTopic(Base):
    __tablename__ = "help_topics"

    handle: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(ForeignKey("departments.handle"))
    sla_plan: Mapped[str] = mapped_column(ForeignKey("sla_plans.handle"))
    priority: Mapped[str] = mapped_column(String(16))
    team: Mapped[str | None] = mapped_column(ForeignKey("teams.handle"))
    agent: Mapped[str | None] = mapped_column(ForeignKey("agents.handle"))


class TicketRow(Base):
    """The read model of a ticket, written only by the workflow's persist activity."""

    __tablename__ = "tickets"

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
    overdue: Mapped[bool] = mapped_column(Boolean, index=True)
    escalation_level: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # The full TicketState as JSON, for reads when the workflow cannot be asked.
    state: Mapped[dict[str, Any]] = mapped_column(JSON)


class Notification(Base):
    """One delivery of the notify service; the idempotency key makes a retry a no-op."""

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("idempotency_key", name="uq_notifications_key"),)

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
