"""Reading inbound messages: addresses, threading headers, text, attachments, and what marks
mail that a machine sent."""

import pytest

from shared.domain.mail.addresses import dedupe_key, ticket_token
from shared.domain.mail.message import Unparseable, parse
from tests.builders import mail


def test_a_plain_message_is_read() -> None:
    raw = (
        b'From: "Doe, Jane" <Jane.Doe@Example.COM>\r\n'
        b"To: Support <support@desk.test>, banking@desk.test\r\n"
        b"Cc: boss@example.com\r\n"
        b"Subject: =?utf-8?q?Caf=C3=A9_terminal?= is\r\n down\r\n"
        b"Message-ID:  <abc@client.test>\r\n"
        b"In-Reply-To: <n2@desk.test>\r\n"
        b"References: <n0@desk.test> <n1@desk.test>\r\n\t<n2@desk.test>\r\n"
        b"\r\n"
        b"Hello\r\n"
    )
    message = parse(raw, envelope_sender="bounce@x.test", envelope_recipients=("IT@desk.test",))
    assert (message.sender, message.sender_name) == ("jane.doe@example.com", "Doe, Jane")
    assert message.recipients == (
        "it@desk.test",
        "support@desk.test",
        "banking@desk.test",
        "boss@example.com",
    )
    assert message.subject == "Café terminal is down"
    assert message.message_id == "<abc@client.test>"
    assert message.referenced == ["<n2@desk.test>", "<n1@desk.test>", "<n0@desk.test>"]
    assert message.text.strip() == "Hello"
    assert (message.attachments, message.auto_reason) == ((), None)


def test_html_only_mail_becomes_text() -> None:
    message = parse(mail(sender="a@example.com", html="<p>One</p><p>Two</p>").as_bytes())
    assert message.text == "One\n\nTwo"


def test_the_plain_alternative_is_preferred_to_html() -> None:
    source = mail(sender="a@example.com", body="plain words")
    source.add_alternative("<p>html words</p>", subtype="html")
    assert parse(source.as_bytes()).text.strip() == "plain words"


def test_attachments_are_listed_not_read() -> None:
    source = mail(sender="a@example.com", body="see attached")
    source.add_attachment(b"%PDF-1.4 ...", maintype="application", subtype="pdf", filename="a.pdf")
    source.add_attachment(b"\x89PNG....", maintype="image", subtype="png")
    forwarded = mail(sender="b@example.com", body="the forwarded body")
    source.add_attachment(forwarded)
    message = parse(source.as_bytes())
    assert message.text.strip() == "see attached"
    assert [(a.filename, a.content_type) for a in message.attachments] == [
        ("a.pdf", "application/pdf"),
        ("(unnamed)", "image/png"),
        ("(unnamed)", "message/rfc822"),
    ]
    assert [a.size for a in message.attachments][:2] == [12, 8]
    assert message.attachments[2].size > len("the forwarded body")


def test_an_unknown_charset_is_read_as_utf8() -> None:
    raw = (
        b"From: a@example.com\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\ncaf\xc3\xa9\r\n"
    )
    assert parse(raw).text.strip() == "café"


@pytest.mark.parametrize(
    "raw",
    [b"", b"  \r\n", b"\x00\x01 this is no mail\n", b"Subject: no sender\r\n\r\nbody\r\n"],
)
def test_input_without_a_message_or_a_sender_is_unparseable(raw: bytes) -> None:
    with pytest.raises(Unparseable):
        parse(raw)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Auto-Submitted: auto-replied"),
        ({"Auto-Submitted": "auto-generated; owner-email=x@y"}, "Auto-Submitted: auto-generated"),
        ({"Precedence": "bulk"}, "Precedence: bulk"),
        ({"Precedence": "Junk"}, "Precedence: junk"),
        ({"Precedence": "list"}, "Precedence: list"),
        ({"Precedence": "auto_reply"}, "Precedence: auto_reply"),
        ({"X-Autoreply": "yes"}, "X-Autoreply header"),
        ({"X-Autorespond": "Out of office"}, "X-Autorespond header"),
        ({"Return-Path": "<>"}, "null return path (a bounce or notification)"),
        ({"X-Ticketflow-Idempotency-Key": "100000:1:x"}, "one of ticketflow's own notifications"),
    ],
)
def test_mail_a_machine_sent_is_recognised(headers: dict[str, str], reason: str) -> None:
    message = parse(mail(sender="a@example.com", headers=headers).as_bytes())
    assert message.auto_reason == reason


@pytest.mark.parametrize("headers", [{}, {"Auto-Submitted": "no"}, {"Precedence": "first-class"}])
def test_a_person_s_mail_is_not_taken_for_an_auto_reply(headers: dict[str, str]) -> None:
    assert parse(mail(sender="a@example.com", headers=headers).as_bytes()).auto_reason is None


@pytest.mark.parametrize("null", ["", "<>"])
def test_a_null_envelope_sender_is_a_bounce(null: str) -> None:
    message = parse(mail(sender="a@example.com").as_bytes(), envelope_sender=null)
    assert message.auto_reason == "null return path (a bounce or notification)"


DSN = (
    b"From: Mail Delivery System <postmaster@mx.example.com>\r\n"
    b"To: alice@example.com\r\n"
    b"Subject: Undelivered Mail Returned to Sender\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n'
    b"\r\n"
    b"--b\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
    b"--b\r\nContent-Type: message/delivery-status\r\n\r\n"
    b"Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; x@y.test\r\n"
    b"Action: failed\r\nStatus: 5.1.1\r\n"
    b"--b--\r\n"
)


def test_delivery_status_reports_and_mailer_daemon_are_bounces() -> None:
    assert parse(DSN).auto_reason == "delivery status report (multipart/report)"
    daemon = mail(sender="MAILER-DAEMON@mx.example.com", body="Delivery failed")
    assert parse(daemon.as_bytes()).auto_reason == "sent by mailer-daemon@mx.example.com (a bounce)"


def test_the_ticket_token_is_the_first_well_formed_one() -> None:
    assert ticket_token("Re: [#100000] Online banking down") == "100000"
    assert ticket_token("Re: [#1234567] Fwd: [#100000] x") == "1234567"
    assert ticket_token("[#012345] or #100000 or [#12345]") is None


def test_deliveries_of_one_message_share_a_key() -> None:
    assert dedupe_key("<a@x>", b"one") == dedupe_key("<a@x>", b"two")
    assert dedupe_key(None, b"one") != dedupe_key(None, b"two")
    assert dedupe_key(None, b"one") == dedupe_key(None, b"one")
