"""HTML-only mail becomes readable text (stdlib html.parser)."""

from shared.domain.mail.html_text import html_to_text
from shared.domain.mail.quotes import strip_quotes


def test_paragraphs_breaks_and_entities() -> None:
    html = "<p>Hello <b>Jane</b>,</p><p>line one<br>line two &amp; three&nbsp;!</p>"
    assert html_to_text(html) == "Hello Jane,\n\nline one\nline two & three !"


def test_scripts_styles_and_head_are_dropped() -> None:
    html = (
        "<html><head><title>t</title><style>p {color: red}</style></head>"
        "<body><script>alert(1)</script><p>Only this.</p></body></html>"
    )
    assert html_to_text(html) == "Only this."


def test_lists_links_and_images() -> None:
    html = (
        "<ul><li>first</li><li>second</li></ul>"
        '<p>See <a href="https://status.example.com/x">the status page</a>, '
        '<a href="https://example.com">https://example.com</a> and <img alt="[logo]"></p>'
    )
    assert html_to_text(html) == (
        "- first\n- second\n\n"
        "See the status page (https://status.example.com/x), https://example.com and [logo]"
    )


def test_preformatted_text_keeps_its_lines_and_spaces() -> None:
    assert html_to_text("<pre>a  b\n  c</pre>") == "a  b\n  c"


def test_whitespace_of_the_source_is_collapsed() -> None:
    assert html_to_text("<div>\n   many\n\n   spaces   here\n</div>") == "many spaces here"


def test_blockquotes_become_quoted_lines_which_the_quote_rules_cut() -> None:
    html = (
        '<div dir="ltr">It works now.</div><br>'
        '<div class="gmail_quote"><div class="gmail_attr">On Mon, 23 Nov 2026 at 10:00, '
        "Help Desk &lt;helpdesk@ticketflow.local&gt; wrote:<br></div>"
        "<blockquote>We received your request.<br>Ticket 100000</blockquote></div>"
    )
    text = html_to_text(html)
    assert "> We received your request." in text
    assert strip_quotes(text) == "It works now."


def test_broken_html_still_gives_its_text() -> None:
    assert html_to_text("<p>unclosed <b>bold <i>and</p> more") == "unclosed bold and\n\nmore"
