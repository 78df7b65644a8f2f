"""Cutting quoted history off replies: what is cut, and what must never be."""

import pytest

from shared.domain.mail.quotes import strip_quotes


@pytest.mark.parametrize(
    "separator",
    [
        "On Mon, 23 Nov 2026 at 10:00, Help Desk <helpdesk@ticketflow.local> wrote:",
        "On 23/11/2026 10:00, helpdesk@ticketflow.local wrote:",
        "Le lun. 23 nov. 2026 à 10:00, Help Desk <helpdesk@ticketflow.local> a écrit :",
        "Am Mo., 23. Nov. 2026 um 10:00 Uhr schrieb Help Desk <helpdesk@ticketflow.local>:",
        "-----Original Message-----",
        "----- Original Message -----",
    ],
)
def test_history_under_a_separator_is_cut(separator: str) -> None:
    text = f"It works again, thanks.\n\n{separator}\n> We received your request\n> Ticket 100000"
    assert strip_quotes(text) == "It works again, thanks."


def test_a_wrapped_attribution_is_cut() -> None:
    text = (
        "Fixed now.\n\nOn Mon, Nov 23, 2026 at 10:00 AM Help Desk <\n"
        "helpdesk@ticketflow.local> wrote:\n\n> old text"
    )
    assert strip_quotes(text) == "Fixed now."


def test_an_outlook_header_block_is_cut_with_its_line_of_underscores() -> None:
    text = (
        "Still broken here.\n\n"
        "________________________________\n"
        "From: Help Desk <helpdesk@ticketflow.local>\n"
        "Sent: Monday, November 23, 2026 10:00\n"
        "To: Alice <alice@example.com>\n"
        "Subject: [#100000] We received your request\n\n"
        "Your ticket 100000 is open."
    )
    assert strip_quotes(text) == "Still broken here."


def test_an_outlook_block_without_underscores_is_cut_at_from() -> None:
    text = "Yes.\n\nFrom: Help Desk\nDate: today\nSubject: x\n\nold"
    assert strip_quotes(text) == "Yes."


def test_prose_that_looks_like_a_separator_is_kept() -> None:
    text = (
        "From: the logs I can see nothing.\n"
        "On the other hand,\nthe engineer wrote:\n"
        "restart the service."
    )
    assert strip_quotes(text) == text


def test_a_trailing_quote_block_is_dropped_and_interleaved_quotes_are_kept() -> None:
    text = "> Which browser?\nFirefox 130.\n> Since when?\nSince 9:00.\n\n> Regards,\n> Help Desk"
    assert strip_quotes(text) == "> Which browser?\nFirefox 130.\n> Since when?\nSince 9:00."


def test_a_leading_quote_block_is_dropped() -> None:
    text = "> We received your request.\n> Ticket 100000\n\nThanks, one more detail: it is DC2."
    assert strip_quotes(text) == "Thanks, one more detail: it is DC2."


def test_a_message_that_is_all_quote_is_kept_whole() -> None:
    text = "On Mon, 23 Nov 2026, Help Desk wrote:\n> only the old text"
    assert strip_quotes(text) == text


def test_signatures_and_crlf_are_handled() -> None:
    text = "Thanks!\r\n-- \r\nAlice\r\n\r\nOn Mon, 23 Nov 2026, Help Desk wrote:\r\n> old"
    assert strip_quotes(text) == "Thanks!\n-- \nAlice"
