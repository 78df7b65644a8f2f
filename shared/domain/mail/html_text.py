"""HTML mail as plain text, with the standard library's parser: paragraphs and line breaks
kept, links written out, scripts and styles dropped, quotations (<blockquote>) prefixed with
"> " so that the quote rules treat them like quoted plain text."""

import re
from html.parser import HTMLParser

# Elements that start and end a line of their own.
_BLOCKS = frozenset(
    {
        *("address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt"),
        *("fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4"),
        *("h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section"),
        *("table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"),
    }
)
# Elements whose content is never text to read.
_SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript"})
_SPACES = re.compile(r"[ \t\r\n\f\u00a0]+")
_BLANK_RUNS = re.compile(r"\n{3,}")


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self._line: list[str] = []
        self._skip = 0
        self._pre = 0
        self._quote = 0
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip += 1
        elif tag == "br":
            self._break(always=True)
        elif tag in _BLOCKS:
            self._break()
            if tag == "blockquote":
                self._quote += 1
            elif tag == "pre":
                self._pre += 1
            elif tag == "li":
                self._line.append("- ")
            elif tag == "hr":
                self._line.append("---")
                self._break()
        elif tag == "a":
            self._links.append(dict(attrs).get("href"))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self._text(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in ("br", "img", "hr"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self._break()
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)
            elif tag == "pre":
                self._pre = max(0, self._pre - 1)
            elif tag in ("p", "div", "table", "ul", "ol") or tag.startswith("h"):
                self._blank()
        elif tag == "a" and self._links:
            href = self._links.pop()
            shown = "".join(self._line)
            if href and href.startswith(("http:", "https:", "mailto:")) and href not in shown:
                target = href.removeprefix("mailto:")
                if target not in shown:
                    self._line.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre:
            first, *rest = data.split("\n")
            self._line.append(first)
            for line in rest:
                self._break()
                self._line.append(line)
            return
        self._text(data)

    def _text(self, data: str) -> None:
        text = _SPACES.sub(" ", data)
        if not self._line or self._line[-1].endswith((" ", "- ")):
            text = text.lstrip(" ")
        if text:
            self._line.append(text)

    def _break(self, *, always: bool = False) -> None:
        """End the current line; an empty one only for <br> (two make a blank line)."""
        line = "".join(self._line) if self._pre else "".join(self._line).rstrip()
        self._line = []
        if not line and not always:
            return
        if self._quote:
            line = "> " * self._quote + line if line else ">" * self._quote
        self.lines.append(line)

    def _blank(self) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def close(self) -> None:
        super().close()
        self._break()


def html_to_text(html: str) -> str:
    """The readable text of an HTML document or fragment."""
    parser = _TextCollector()
    parser.feed(html)
    parser.close()
    text = "\n".join(parser.lines)
    return _BLANK_RUNS.sub("\n\n", text).strip()
