"""Invites: a one-time link for an agent to set their password, good for
INVITE_LIFETIME_HOURS; only its token's hash is kept. A newer invite replaces the agent's
unused ones. The link is mailed to the agent through the notification outbox, as the admins'
notices are (shared.db.admin_notices)."""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.access import hash_token, invite_token
from shared.db import passwords
from shared.db.admin_notices import NO_TICKET
from shared.db.api_keys import utc
from shared.db.tables import AgentInviteRow, AgentRow, NotificationRow
from shared.domain.enums import DeliveryStatus, NotificationKind
from shared.domain.text import bounded_key
from shared.tracing.carrier import current_traceparent

# Where the console takes an invite's token (services/web/console).
INVITE_PATH = "/agent/invite/"
INVITE_KIND = NotificationKind.AGENT_INVITE
# Where the invite's mail, as stored, says the link is: notify puts the link there as it sends
# the mail (`link_in`), so that no usable link sits in the outbox.
INVITE_LINK = "[your invite link]"


class InviteUnknown(Exception):
    pass


class InviteGone(Exception):
    """Used, replaced by a newer invite, expired, or its agent deactivated."""


@dataclass(frozen=True)
class Invite:
    url: str
    expires_at: datetime


@dataclass(frozen=True)
class Mailing:
    """What the invite's mail says of the desk, and how it is sent."""

    portal_url: str
    desk_name: str
    channel: str
    secret_key: str  # makes the token from the mail's key (shared.access.invite_token)


def invite_url(portal_url: str, token: str) -> str:
    return f"{portal_url.rstrip('/')}{INVITE_PATH}{token}"


def link_in(body: str, *, portal_url: str, secret_key: str, mail_key: str) -> str:
    """The invite's mail as sent: its link made again from the mail's key."""
    url = invite_url(portal_url, invite_token(secret_key, mail_key))
    return body.replace(INVITE_LINK, url, 1)


def create(
    session: Session,
    *,
    agent: AgentRow,
    invited_by: str,
    now: datetime,
    lifetime: timedelta,
    mailing: Mailing,
) -> Invite:
    """A new invite for `agent`, queued to be mailed to them; their unused ones end."""
    session.execute(
        update(AgentInviteRow)
        .where(AgentInviteRow.agent == agent.handle, AgentInviteRow.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    mail_key = bounded_key("agent-invite", secrets.token_hex(16))
    token = invite_token(mailing.secret_key, mail_key)
    row = AgentInviteRow(
        token_hash=hash_token(token),
        agent=agent.handle,
        created_at=now,
        created_by=invited_by[:200],
        expires_at=now + lifetime,
    )
    session.add(row)
    session.flush()
    invite = Invite(url=invite_url(mailing.portal_url, token), expires_at=now + lifetime)
    session.add(_mail(mail_key, agent, invite, invited_by, mailing, now))
    session.flush()
    return invite


def _mail(
    mail_key: str,
    agent: AgentRow,
    invite: Invite,
    invited_by: str,
    mailing: Mailing,
    now: datetime,
) -> NotificationRow:
    body = (
        f"Hello {agent.name},\n\n"
        f"{invited_by} invited you to the agent console of {mailing.desk_name}. Choose your "
        f"password here:\n\n{INVITE_LINK}\n\n"
        f"The link works once, until {invite.expires_at:%-d %B %Y, %H:%M} UTC. If you did "
        "not expect this mail, ignore it: nothing changes until the link is used."
    )
    return NotificationRow(
        idempotency_key=mail_key,
        ticket=NO_TICKET,
        kind=INVITE_KIND.value,
        recipient_name=agent.name,
        recipient_email=agent.email,
        channel=mailing.channel,
        subject=f"Your invitation to {mailing.desk_name}"[:300],
        body=body,
        status=DeliveryStatus.QUEUED.value,
        attempts=0,
        created_at=now,
        traceparent=current_traceparent(),  # the admin's request: its delivery joins its trace
    )


def find(session: Session, token: str, now: datetime) -> tuple[AgentInviteRow, AgentRow]:
    """The invite this token is, and its agent, if it may still be used."""
    row = session.scalar(
        select(AgentInviteRow).where(AgentInviteRow.token_hash == hash_token(token))
    )
    if row is None:
        raise InviteUnknown()
    agent = session.get(AgentRow, row.agent)
    expires_at = utc(row.expires_at)
    if (
        row.used_at is not None
        or expires_at is None
        or expires_at <= now
        or agent is None
        or not agent.active
    ):
        raise InviteGone()
    return row, agent


def redeem(session: Session, token: str, password: str, now: datetime) -> AgentRow:
    """Set the agent's password through the invite, which is then used up (once, even when
    two tries race); the agent's sessions end."""
    row, agent = find(session, token, now)
    result = session.execute(
        update(AgentInviteRow)
        .where(AgentInviteRow.id == row.id, AgentInviteRow.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(result, "rowcount", 0):
        raise InviteGone()
    passwords.set_password(session, agent, password)
    return agent
