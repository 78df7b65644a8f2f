"""What an inbound message does, decided from the message and what the database knows.

- Sent by a machine (auto-reply, bounce, list, our own notification): recorded, ignored.
- From one of our own addresses: ignored (a loop through a forwarding rule).
- A sender over the hourly limit: refused (this stops a loop with an autoresponder that does
  not mark its mail: we stop answering, so it has nothing left to answer). Agents writing on
  tickets are not limited; a loop between two machines always has a limited side, since an
  agent's message mails only the requester, whose answers count.
- Threads onto a ticket (In-Reply-To/References name a mail of ours, or "[#number]" in the
  subject names a ticket):
  - from the ticket's requester: a requester reply, marked unverified unless its sender is
    proven (below);
  - from an active agent whose sending is proven: a public response, or an internal note
    when marked; unproven, it is refused ("agent mail not authenticated"): a From header is
    no proof, and neither is the subject's "[#number]";
  - from anyone else (or a viewer): refused and recorded, nothing is mailed back, no ticket
    is opened (a stranger who sees a subject line can neither write to nor fork a ticket).
- A sender is proven (shared.domain.mail.trust) when the message answers a notification of
  ours that was addressed to it on that ticket (its Message-ID is keyed with our secret), or
  when a trusted MTA's Authentication-Results says dmarc=pass for its From domain.
- Otherwise: a new ticket in the help topic of the first recipient address mapped to one,
  else the default help topic; refused if there is none.
"""

from dataclasses import dataclass
from enum import StrEnum

from shared.domain.enums import Role
from shared.domain.mail.content import marked_as_note
from shared.domain.mail.message import InboundMessage
from shared.domain.mail.trust import dmarc_pass
from shared.domain.text import email_problem


class Outcome(StrEnum):
    """What became of an inbound message (the admin log's `outcome`)."""

    RECEIVED = "received"  # recorded, not yet acted upon (a redelivery completes it)
    CREATED = "created"
    REPLIED = "replied"
    NOTED = "noted"
    IGNORED_AUTO_REPLY = "ignored-auto-reply"
    DUPLICATE = "duplicate"
    REFUSED = "refused"


# Outcomes that acted on a ticket: what the per-sender limit counts.
ACTED = (Outcome.CREATED, Outcome.REPLIED, Outcome.NOTED)


@dataclass(frozen=True)
class TicketRef:
    number: str
    requester_email: str
    requester_name: str


@dataclass(frozen=True)
class AgentRef:
    handle: str
    name: str
    role: Role
    active: bool


@dataclass(frozen=True)
class Context:
    """What the database knows about the message's sender and thread."""

    ticket: TicketRef | None
    agent: AgentRef | None
    recent_from_sender: int  # messages from this sender that acted in the last hour
    topic: str | None  # the help topic its recipients route to (or the default)
    # It answers a notification of ours, on that ticket, addressed to its sender.
    answers_mail_to_sender: bool = False


@dataclass(frozen=True)
class Policy:
    """The desk's settings that decisions follow."""

    own_addresses: frozenset[str]
    hourly_limit: int
    # Authentication-Results from these authserv-ids are the receiving MTA's own.
    trusted_authserv_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Ignore:
    reason: str
    ticket: str | None = None


@dataclass(frozen=True)
class Refuse:
    reason: str
    ticket: str | None = None


@dataclass(frozen=True)
class OpenTicket:
    topic: str


@dataclass(frozen=True)
class RequesterReply:
    ticket: TicketRef
    # Neither threaded onto our mail nor vouched for: its From alone says who wrote it.
    unverified: bool = False


@dataclass(frozen=True)
class AgentMessage:
    ticket: str
    agent: AgentRef
    note: bool


Decision = Ignore | Refuse | OpenTicket | RequesterReply | AgentMessage


def decide(message: InboundMessage, context: Context, policy: Policy) -> Decision:
    number = context.ticket.number if context.ticket else None
    if message.auto_reason is not None:
        return Ignore(message.auto_reason, number)
    if message.sender in policy.own_addresses:
        return Ignore(f"sent from ticketflow's own address {message.sender}", number)
    proven = context.answers_mail_to_sender or dmarc_pass(
        message.authentication_results,
        trusted=policy.trusted_authserv_ids,
        domain=message.sender.rpartition("@")[2],
    )
    on_ticket = (
        _on_ticket(message, context.ticket, context.agent, proven=proven)
        if context.ticket
        else None
    )
    if isinstance(on_ticket, AgentMessage):
        return on_ticket  # agents answering many tickets by mail are not limited
    if context.recent_from_sender >= policy.hourly_limit:
        return Refuse(
            f"{message.sender} sent {context.recent_from_sender} messages that acted in the "
            f"last hour (limit {policy.hourly_limit}): a mail loop?",
            number,
        )
    if on_ticket is not None:
        return on_ticket
    problem = email_problem(message.sender)
    if problem is not None:
        return Refuse(f"sender address not accepted: {problem}")
    if context.topic is None:
        return Refuse("no help topic for its recipients, and no default help topic")
    return OpenTicket(context.topic)


def _on_ticket(
    message: InboundMessage, ticket: TicketRef, agent: AgentRef | None, *, proven: bool
) -> Decision:
    if message.sender == ticket.requester_email.lower():
        return RequesterReply(ticket, unverified=not proven)
    if agent is not None and agent.active:
        if agent.role is Role.VIEWER:
            return Refuse(f"agent {agent.handle} is a viewer and may not write", ticket.number)
        if not proven:
            return Refuse(
                f"agent mail not authenticated: {message.sender} answered no mail of ours "
                "sent to it on this ticket, and no trusted Authentication-Results says "
                "dmarc=pass for its domain",
                ticket.number,
            )
        return AgentMessage(ticket.number, agent, marked_as_note(message.subject, message.text))
    return Refuse(
        f"{message.sender} is neither the requester of ticket {ticket.number} nor an agent",
        ticket.number,
    )


def topic_for(
    recipients: tuple[str, ...], addresses: dict[str, str], default: str | None
) -> str | None:
    """The help topic of the first recipient mapped to one, else the default."""
    for recipient in recipients:
        if recipient in addresses:
            return addresses[recipient]
    return default
