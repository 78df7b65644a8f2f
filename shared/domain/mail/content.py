"""What a mail puts on a ticket: its subject and its new text, within the input rules every
other way in obeys (shared.domain.text), and whether an agent marked it as an internal note.

An agent marks a mail as a note with "#note" alone on its first line (removed from the text),
or with "[note]" anywhere in its subject.
"""

import re

from shared.domain import text as rules
from shared.domain.mail.quotes import strip_quotes

NO_SUBJECT = "(no subject)"
NO_TEXT = "(no text)"
TRUNCATED = "\n\n[… message truncated]"
_NOTE_LINE = re.compile(r"^\s*#note\s*$", re.IGNORECASE)
_NOTE_SUBJECT = re.compile(r"\[note\]", re.IGNORECASE)


def ticket_subject(subject: str) -> str:
    """A new ticket's subject: one line, at most SUBJECT_MAX characters, never empty."""
    one_line = " ".join(rules.scrub(subject, multiline=False).split())
    if len(one_line) > rules.SUBJECT_MAX:
        one_line = one_line[: rules.SUBJECT_MAX - 1].rstrip() + "…"
    return one_line or NO_SUBJECT


def sender_name(name: str, address: str) -> str:
    """The requester's name: the From display name, else the address's local part."""
    cleaned = " ".join(rules.scrub(name, multiline=False).split())
    return (cleaned or address.partition("@")[0] or address)[: rules.NAME_MAX]


def marked_as_note(subject: str, body: str) -> bool:
    first = next((line for line in body.splitlines() if line.strip()), "")
    return bool(_NOTE_SUBJECT.search(subject) or _NOTE_LINE.match(first))


def message_text(body: str, *, cut_history: bool = True, drop_note_marker: bool = False) -> str:
    """The text to add to a thread: history cut off (replies), the "#note" line removed (if
    asked), characters the rules refuse replaced, at most BODY_MAX characters, never empty."""
    text = strip_quotes(body) if cut_history else body.strip()
    if drop_note_marker:
        lines = text.splitlines()
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is not None and _NOTE_LINE.match(lines[first]):
            text = "\n".join(lines[first + 1 :]).strip()
    text = rules.scrub(text, multiline=True).strip()
    if len(text) > rules.BODY_MAX:
        text = text[: rules.BODY_MAX - len(TRUNCATED)].rstrip() + TRUNCATED
    return text or NO_TEXT
