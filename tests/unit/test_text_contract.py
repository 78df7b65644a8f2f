"""The input rules of shared.domain.text on their own: characters, lengths, addresses and keys, and
that whatever intake accepts fits the notification outbox."""

import json
import sys
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from services.tickets.inputs import MessageBody, RequesterIn, TicketCreate
from shared.domain import text

ALLOWED_IN_BODIES = {"\t", "\n", "\r"}
LINE_SEPARATORS = {"\u2028", "\u2029"}
# The longest prefix a notice puts before a ticket subject, with a 12-digit ticket number.
LONGEST_PREFIX = "[#123456789012] Overdue (first response), level 100: "


def refused_char(char: str, *, multiline: bool) -> bool:
    """The rule in words of the Unicode database, to check the module's regular expressions."""
    category = unicodedata.category(char)
    if category == "Cs":
        return True
    if category == "Cc":
        return not (multiline and char in ALLOWED_IN_BODIES)
    return not multiline and char in LINE_SEPARATORS


@pytest.mark.parametrize("multiline", [False, True])
def test_every_code_point_is_judged_by_its_unicode_category(multiline: bool) -> None:
    wrong = [
        f"U+{code:04X}"
        for code in range(sys.maxunicode + 1)
        if (text.text_problem(chr(code), multiline=multiline) is not None)
        != refused_char(chr(code), multiline=multiline)
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("value", "multiline", "message"),
    [
        ("a\ud800b", True, "lone UTF-16 surrogate (U+D800) at position 1"),
        ("a\udfffb", False, "lone UTF-16 surrogate (U+DFFF)"),
        ("Help\x00", True, "control character U+0000 (NUL)"),
        ("Help\x00", False, "control character U+0000 (NUL)"),
        ("a\x07b", True, "control character U+0007"),
        ("a\x1bb", True, "U+001B (escape)"),
        ("a\x7fb", False, "U+007F (delete)"),
        ("a\x9bb", True, "U+009B"),
        ("a\x0bb", True, "U+000B (vertical tab)"),
        ("a\x0cb", True, "U+000C (form feed)"),
        ("a\x85b", True, "U+0085 (next line)"),
        ("Hello\r\nBcc: evil@example.com", False, "single line: contains a line break"),
        ("a\nb", False, "line break, U+000A (line feed)"),
        ("a\rb", False, "line break, U+000D (carriage return)"),
        ("a\x0bb", False, "line break, U+000B (vertical tab)"),
        ("a\x0cb", False, "line break, U+000C (form feed)"),
        ("a\x85b", False, "line break, U+0085 (next line)"),
        ("a\u2028b", False, "line break, U+2028 (line separator)"),
        ("a\u2029b", False, "line break, U+2029 (paragraph separator)"),
        ("a\tb", False, "U+0009 (tab)"),
    ],
)
def test_bad_characters_are_named_with_their_position(
    value: str, multiline: bool, message: str
) -> None:
    problem = text.text_problem(value, multiline=multiline)
    assert problem is not None and message in problem
    with pytest.raises(text.TextError, match="position"):
        text.check_text(value, multiline=multiline)


@pytest.mark.parametrize(
    "value",
    [
        "Grüße aus Köln",
        "日本語のテキスト",
        "emoji \U0001f600 and \u00a0no-break space",
        "right-to-left \u05e9\u05dc\u05d5\u05dd",
    ],
)
def test_international_text_is_accepted_on_one_line_and_in_bodies(value: str) -> None:
    assert text.text_problem(value, multiline=False) is None
    assert text.text_problem(value, multiline=True) is None


def test_bodies_keep_newlines_tabs_and_carriage_returns() -> None:
    body = "Steps:\n\t1. open\r\n\t2. close\n\nThanks\u2028Anna"
    assert MessageBody(message=body).message == body


@given(st.text())
def test_scrubbed_text_always_passes_and_good_text_is_unchanged(value: str) -> None:
    for multiline in (False, True):
        scrubbed = text.scrub(value, multiline=multiline)
        assert text.text_problem(scrubbed, multiline=multiline) is None
        scrubbed.encode("utf-8")
        if text.text_problem(value, multiline=multiline) is None:
            assert scrubbed == value


def test_scrub_turns_line_breaks_into_spaces() -> None:
    assert text.scrub("Hi\r\nBcc: x@y.z", multiline=False) == "Hi  Bcc: x@y.z"
    assert text.scrub("a\x00b\ud800", multiline=True) == "a\ufffdb\ufffd"


def test_subject_limit_leaves_room_for_the_longest_notice_prefix() -> None:
    assert len(LONGEST_PREFIX) + text.SUBJECT_MAX <= text.MAIL_SUBJECT_MAX
    assert text.MAIL_SUBJECT_MAX == 300
    assert text.SUBJECT_MAX == 200


GOOD_EMAILS = [
    "alice@example.com",
    "o'brien+tag@mail.example.co.uk",
    "jürgen@example.com",
    "user@bücher.example",
    "日本語@例え.テスト",
    "a@xn--bcher-kva.example",
    "x" * 64 + "@example.com",
]
BAD_EMAILS = [
    ("a..b@example.com", "two in a row"),
    (".a@example.com", "begin or end with a dot"),
    ('a"b@example.com', "only letters, digits"),
    ('"a b"@example.com', "only letters, digits"),
    ("a b@example.com", "only letters, digits"),
    ("a(comment)@example.com", "only letters, digits"),
    ("a\u200bb@example.com", "only letters, digits"),
    ("not-an-address", "such as name@example.com"),
    ("@example.com", "such as name@example.com"),
    ("a@localhost", "such as example.com"),
    ("a@[127.0.0.1]", "letters, digits and inner hyphens"),
    ("a@1.2.3.4", "letters, digits and inner hyphens"),
    ("a@-x.example", "letters, digits and inner hyphens"),
    ("a@x_y.example", "letters, digits and inner hyphens"),
    ("a@example.com.", "letters, digits and inner hyphens"),
    ("a@straße.de", "xn-- form"),
    ("x" * 65 + "@example.com", "at most 64 bytes"),
    ("ü" * 33 + "@example.com", "at most 64 bytes"),
    ("a@" + "b" * 64 + ".example", "not a valid (internationalised) domain"),
    ("a@" + ".".join(["b" * 63] * 4), "at most 253"),
    ("ü" * 32 + "@" + ".".join(["b" * 60] * 3) + ".example", "at most 254 bytes"),
]


@pytest.mark.parametrize("address", GOOD_EMAILS)
def test_good_addresses_are_accepted(address: str) -> None:
    assert text.email_problem(address) is None
    assert RequesterIn(name="N", email=f"  {address} ").email == address


@pytest.mark.parametrize(("address", "message"), BAD_EMAILS)
def test_bad_addresses_are_refused_with_the_reason(address: str, message: str) -> None:
    problem = text.email_problem(address)
    assert problem is not None and message in problem
    with pytest.raises(ValidationError, match=r"not a valid e-mail|at most 254 characters"):
        RequesterIn(name="N", email=address)


def test_an_idn_domain_is_sent_in_its_ascii_form() -> None:
    assert text.mail_address("user@bücher.example") == ("user", "xn--bcher-kva.example")
    assert text.mail_address("jürgen@example.com") == ("jürgen", "example.com")


@given(st.lists(st.text(), min_size=1, max_size=4))
def test_bounded_key_always_fits_the_outbox_and_is_stable(parts: list[str]) -> None:
    key = text.bounded_key(*parts)
    assert text.key_problem(key) is None
    assert key == text.bounded_key(*parts)
    OUTBOX_KEY.validate_python(key)


@given(st.lists(st.text(), min_size=1, max_size=3), st.lists(st.text(), min_size=1, max_size=3))
def test_different_joined_parts_give_different_keys(a: list[str], b: list[str]) -> None:
    if ":".join(a) != ":".join(b):
        assert text.bounded_key(*a) != text.bounded_key(*b)


def test_short_ascii_keys_stay_readable_and_long_ones_are_hashed() -> None:
    assert text.bounded_key("100001:3:ticket_received", "a@example.com") == (
        "100001:3:ticket_received:a@example.com"
    )
    long_key = text.bounded_key("100001:3:ticket_received", "a" * 64 + "@" + "b" * 180 + ".io")
    intl_key = text.bounded_key("100001:3:ticket_received", "jürgen@example.com")
    assert long_key.startswith("sha256:") and len(long_key) == 71
    assert intl_key.startswith("sha256:") and len(intl_key) == 71
    # A readable key that looks like a hashed one is hashed too, so the two never collide.
    assert text.bounded_key("sha256:abc") != "sha256:abc"
    with pytest.raises(ValueError):
        text.bounded_key()


@pytest.mark.parametrize(
    ("key", "message"),
    [("k" * 201, "at most 200 characters, not 201"), ("has space", "printable ASCII")],
)
def test_bad_keys_are_refused_with_a_clear_message(key: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OUTBOX_KEY.validate_python(key)


# What a notification in the outbox may hold (the workflow composes it; notify sends it).
OUTBOX_KEY = TypeAdapter(text.IdempotencyKey)
OUTBOX_SUBJECT = TypeAdapter(text.MailSubject)
OUTBOX_BODY = TypeAdapter(text.MailBody)


@given(
    name=st.text(min_size=1, max_size=text.NAME_MAX + 5),
    subject=st.text(min_size=1, max_size=text.SUBJECT_MAX + 5),
    message=st.text(min_size=1, max_size=300),
    email=st.emails() | st.sampled_from([a for a in GOOD_EMAILS] + [a for a, _ in BAD_EMAILS]),
)
def test_what_intake_accepts_fits_the_outbox(
    name: str, subject: str, message: str, email: str
) -> None:
    try:
        ticket = TicketCreate.model_validate(
            {
                "requester": {"name": name, "email": email},
                "subject": subject,
                "message": message,
                "help_topic": "general",
            }
        )
    except ValidationError:
        return
    key = text.bounded_key("123456789012:99:ticket_received", ticket.requester.email.lower())
    OUTBOX_KEY.validate_python(key)
    OUTBOX_SUBJECT.validate_python(LONGEST_PREFIX + ticket.subject)
    OUTBOX_SUBJECT.validate_python(f"[#123456789012] New message from {ticket.requester.name}")
    OUTBOX_BODY.validate_python(ticket.message + "\n\nTicket number: 123456789012")


SURROGATE_PATHS: list[tuple[str, ...]] = [
    ("subject",),
    ("message",),
    ("help_topic",),
    ("priority",),
    ("source",),
    ("requester", "name"),
    ("requester", "email"),
]


@pytest.mark.parametrize("path", SURROGATE_PATHS)
def test_a_lone_surrogate_anywhere_gives_errors_that_encode_as_utf8(path: tuple[str, ...]) -> None:
    data: dict[str, Any] = {
        "requester": {"name": "Anna", "email": "anna@example.com"},
        "subject": "Printer",
        "message": "It jams",
        "help_topic": "general",
    }
    target = data
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = "x\ud800"
    with pytest.raises(ValidationError) as caught:
        TicketCreate.model_validate(data)
    # FastAPI echoes `input` in its 422; it must be encodable or the answer becomes a 500.
    json.dumps(caught.value.errors(include_url=False), ensure_ascii=False, default=str).encode(
        "utf-8"
    )


def test_a_lone_surrogate_in_a_key_or_the_whole_body_is_refused_encodably() -> None:
    for data in ({"\udc00": 1}, "\ud800"):
        with pytest.raises(ValidationError) as caught:
            TicketCreate.model_validate(data)
        json.dumps(caught.value.errors(include_url=False), ensure_ascii=False, default=str).encode(
            "utf-8"
        )
