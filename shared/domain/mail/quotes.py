"""Cutting the quoted history off a reply, so a ticket's thread holds what was written new.

The rule, in order (each looked for only on lines that are not themselves quoted):

1. Everything from the first history separator on is cut:
   - an attribution line, "On <date>, <name> wrote:" (also wrapped over two lines when it
     holds a digit, as a date does), and the French "Le … a écrit :" and German
     "Am … schrieb …:";
   - "-----Original Message-----" (any number of dashes, any case);
   - an Outlook header block: a "From:" line followed within five lines by at least two of
     "Sent:", "Date:", "To:", "Cc:", "Subject:" (with the line of underscores Outlook puts
     above it, if there is one).
2. Then a block of quoted lines (starting with ">") at the very end is dropped, and one at
   the very start too when it is the only quote (a bottom-posted reply); an interleaved
   answer keeps the quoted lines between the sender's own (it needs the questions).
3. If nothing would be left, the text is kept whole: a message is never emptied.

Signatures are kept.
"""

import re

_ORIGINAL = re.compile(r"^\s*-{2,}\s*original message\s*-{2,}\s*$", re.IGNORECASE)
_ATTRIBUTION = re.compile(
    r"^\s*(on\s.*\swrote|le\s.*\sa\s+écrit|am\s.*\sschrieb.*)\s*:\s*$", re.IGNORECASE
)
_ATTRIBUTION_START = re.compile(r"^\s*(on|le|am)\s", re.IGNORECASE)
_ATTRIBUTION_END = re.compile(r"(wrote|a\s+écrit|schrieb.*)\s*:\s*$", re.IGNORECASE)
_FROM = re.compile(r"^\s*\**from:\**\s*\S", re.IGNORECASE)
_HEADER = re.compile(r"^\s*\**(sent|date|to|cc|subject):\**\s", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^\s*_{10,}\s*$")
OUTLOOK_WINDOW = 5
MAX_ATTRIBUTION = 300


def strip_quotes(text: str) -> str:
    """`text` without the quoted history under (or above) the new part."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    cut = _separator(lines)
    kept = lines[:cut] if cut is not None else lines
    kept = _trim_quoted_edges(kept)
    result = "\n".join(kept).strip()
    return result if result else text.strip()


def _separator(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if _quoted(line):
            continue
        if _ORIGINAL.match(line) or _ATTRIBUTION.match(line):
            return index
        if _ATTRIBUTION_START.match(line) and index + 1 < len(lines):
            joined = f"{line} {lines[index + 1]}"
            # A wrapped attribution names its date: a digit tells it from prose.
            wrapped = len(joined) <= MAX_ATTRIBUTION and any(c.isdigit() for c in joined)
            if wrapped and _ATTRIBUTION_END.search(lines[index + 1]):
                return index
        if _FROM.match(line) and _outlook_block(lines, index):
            above = _previous_nonblank(lines, index)
            if above is not None and _UNDERSCORES.match(lines[above]):
                return above
            return index
    return None


def _outlook_block(lines: list[str], start: int) -> bool:
    window = lines[start + 1 : start + 1 + OUTLOOK_WINDOW]
    return sum(1 for line in window if _HEADER.match(line)) >= 2


def _previous_nonblank(lines: list[str], index: int) -> int | None:
    for above in range(index - 1, -1, -1):
        if lines[above].strip():
            return above
    return None


def _quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _trim_quoted_edges(lines: list[str]) -> list[str]:
    end = len(lines)
    while end > 0 and (_quoted(lines[end - 1]) or not lines[end - 1].strip()):
        end -= 1
    start = 0
    while start < end and (_quoted(lines[start]) or not lines[start].strip()):
        start += 1
    if any(_quoted(line) for line in lines[start:end]):
        start = 0  # interleaved: the leading quote is the first question answered
    return lines[start:end]
