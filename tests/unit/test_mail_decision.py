"""What an inbound message does: the decision table, the text it adds, the topic it opens in."""

import pytest
from pydantic import ValidationError

from shared.domain import text as rules
from shared.domain.enums import Role
from shared.domain.mail import content
from shared.domain.mail.decision import (
    AgentMessage,
    AgentRef,
    Context,
    Decision,
    Ignore,
    OpenTicket,
    Policy,
    Refuse,
    RequesterReply,
    TicketRef,
    decide,
    topic_for,
)
from shared.domain.mail.message import parse
from shared.settings import Settings
from tests.builders import mail

OWN = frozenset({"helpdesk@ticketflow.local"})
TICKET = TicketRef("100000", "Alice@Example.com", "Alice")
JOHN = AgentRef("john", "John Smith", Role.AGENT, active=True)
MX = "mx.ticketflow.test"  # the MTA in front of mail-in
PASS = f"{MX}; spf=pass smtp.mailfrom=example.com; dmarc=pass header.from=example.com"


def decision(
    sender: str = "alice@example.com",
    *,
    ticket: TicketRef | None = TICKET,
    agent: AgentRef | None = None,
    recent: int = 0,
    topic: str | None = "general",
    subject: str = "Re: [#100000] Online banking down",
    body: str = "Thanks",
    headers: dict[str, str] | None = None,
    answers_mail_to_sender: bool = True,
    results: tuple[str, ...] = (),
    trusted: frozenset[str] = frozenset({MX}),
) -> Decision:
    written = mail(
        sender=sender, subject=subject, body=body, headers=headers, authentication_results=results
    )
    message = parse(written.as_bytes())
    context = Context(
        ticket=ticket,
        agent=agent,
        recent_from_sender=recent,
        topic=topic,
        answers_mail_to_sender=answers_mail_to_sender,
    )
    policy = Policy(own_addresses=OWN, hourly_limit=20, trusted_authserv_ids=trusted)
    return decide(message, context, policy)


def test_the_requester_replies_whatever_the_case_of_the_address() -> None:
    assert decision("ALICE@example.com") == RequesterReply(TICKET)


def test_an_agent_responds_or_notes() -> None:
    assert decision("john@example.com", agent=JOHN) == AgentMessage("100000", JOHN, note=False)
    noted = AgentMessage("100000", JOHN, note=True)
    assert decision("john@example.com", agent=JOHN, body="#note\nLB restarted") == noted
    assert decision("john@example.com", agent=JOHN, subject="Re: [#100000] [note] x") == noted
    assert decision("john@example.com", agent=JOHN, body="see #note below") == AgentMessage(
        "100000", JOHN, note=False
    )


@pytest.mark.parametrize("body", ["Please confirm your card PIN.", "#note\nPIN please"])
def test_an_agent_s_from_and_the_subject_s_number_alone_are_refused(body: str) -> None:
    outcome = decision("john@example.com", agent=JOHN, body=body, answers_mail_to_sender=False)
    assert isinstance(outcome, Refuse) and outcome.ticket == "100000"
    assert outcome.reason.startswith("agent mail not authenticated")


def test_a_trusted_mta_s_dmarc_pass_proves_an_agent() -> None:
    def agent(*results: str, trusted: frozenset[str] = frozenset({MX})) -> Decision:
        return decision(
            "john@example.com",
            agent=JOHN,
            answers_mail_to_sender=False,
            results=results,
            trusted=trusted,
        )

    assert agent(PASS) == AgentMessage("100000", JOHN, note=False)
    assert isinstance(agent(PASS.replace("dmarc=pass", "dmarc=fail")), Refuse)
    assert isinstance(agent(PASS, trusted=frozenset()), Refuse)  # nothing trusted: no proof
    assert isinstance(agent(PASS.replace(MX, "mx.attacker.test")), Refuse)
    assert isinstance(
        agent(PASS.replace("header.from=example.com", "header.from=evil.test")), Refuse
    )
    # Only the topmost trusted header counts: a forged one above it, or any below it, does not.
    forged_pass = PASS.replace(MX, "mx.attacker.test")
    trusted_fail = PASS.replace("dmarc=pass", "dmarc=fail")
    assert isinstance(agent(forged_pass, trusted_fail), Refuse)
    assert isinstance(agent(trusted_fail, PASS), Refuse)
    assert agent(forged_pass.replace("pass", "fail"), PASS) == AgentMessage(
        "100000", JOHN, note=False
    )


def test_a_requester_s_unproven_reply_joins_the_thread_marked_unverified() -> None:
    assert decision(answers_mail_to_sender=False) == RequesterReply(TICKET, unverified=True)
    assert decision(answers_mail_to_sender=False, results=(PASS,)) == RequesterReply(TICKET)
    assert decision() == RequesterReply(TICKET)


@pytest.mark.parametrize(
    "agent",
    [None, AgentRef("old", "Old", Role.AGENT, active=False), AgentRef("v", "V", Role.VIEWER, True)],
)
def test_anyone_else_on_a_ticket_is_refused(agent: AgentRef | None) -> None:
    outcome = decision("mallory@example.com", agent=agent)
    assert isinstance(outcome, Refuse) and outcome.ticket == "100000"


def test_machines_and_our_own_address_are_ignored() -> None:
    auto = decision(headers={"Auto-Submitted": "auto-replied"})
    assert auto == Ignore("Auto-Submitted: auto-replied", "100000")
    own = decision("helpdesk@ticketflow.local", ticket=None)
    assert isinstance(own, Ignore)


def test_a_sender_at_the_hourly_limit_is_refused_but_agents_on_tickets_are_not() -> None:
    outcome = decision(recent=20)
    assert isinstance(outcome, Refuse) and "limit 20" in outcome.reason
    assert decision(recent=19) == RequesterReply(TICKET)
    assert isinstance(decision(ticket=None, recent=20), Refuse)
    busy = decision("john@example.com", agent=JOHN, recent=200)
    assert busy == AgentMessage("100000", JOHN, note=False)
    assert isinstance(decision("john@example.com", agent=JOHN, ticket=None, recent=20), Refuse)


def test_new_mail_opens_a_ticket_in_its_topic_or_is_refused() -> None:
    assert decision(ticket=None, topic="network") == OpenTicket("network")
    assert isinstance(decision(ticket=None, topic=None), Refuse)
    assert isinstance(decision('"a b"@example.com', ticket=None), Refuse)


def test_the_first_mapped_recipient_wins_then_the_default() -> None:
    addresses = {"banking@desk.test": "online-banking", "it@desk.test": "network"}
    assert topic_for(("x@desk.test", "it@desk.test", "banking@desk.test"), addresses, None) == (
        "network"
    )
    assert topic_for(("x@desk.test",), addresses, "general") == "general"
    assert topic_for(("x@desk.test",), addresses, None) is None


def test_the_text_added_obeys_the_input_rules() -> None:
    assert content.message_text("hi\x00 there\x1b!") == "hi\ufffd there\ufffd!"
    assert content.message_text("  \n ") == content.NO_TEXT
    long = content.message_text("x" * (rules.BODY_MAX + 10))
    assert len(long) <= rules.BODY_MAX and long.endswith(content.TRUNCATED)
    assert content.message_text("#note\nchecked\n\n> old", drop_note_marker=True) == "checked"
    forwarded = "Please help.\n-----Original Message-----\nthe request"
    assert content.message_text(forwarded, cut_history=False) == forwarded


def test_subjects_and_names_fit_a_ticket() -> None:
    assert content.ticket_subject("  \t ") == content.NO_SUBJECT
    assert content.ticket_subject("a\r\n  b") == "a b"
    assert len(content.ticket_subject("s" * 500)) == rules.SUBJECT_MAX
    assert content.sender_name("", "alice@example.com") == "alice"
    assert content.sender_name(" Alice \n Doe ", "a@example.com") == "Alice Doe"


def test_the_address_map_setting() -> None:
    settings = Settings(
        mail_in_addresses="Banking@Desk.test=online-banking, it@desk.test=network",
        mail_in_default_topic="",
    )
    assert settings.mail_in_addresses == {
        "banking@desk.test": "online-banking",
        "it@desk.test": "network",
    }
    assert settings.mail_in_default_topic is None
    for bad in ("banking@desk.test", "banking=online-banking", "a@b.test=Not A Handle"):
        with pytest.raises(ValidationError):
            Settings(mail_in_addresses=bad)


def test_the_trusted_authserv_ids_setting() -> None:
    settings = Settings(mail_in_trusted_authserv_ids=" MX1.Desk.test , mx2.desk.test,")
    assert settings.mail_in_trusted_authserv_ids == {"mx1.desk.test", "mx2.desk.test"}
    assert Settings().mail_in_trusted_authserv_ids == frozenset()
