"""Charts drawn by the server as inline SVG, from plain figures: horizontal bars split in two
(met vs breached, good vs bad) and bars of one value (a median, a count).

Pure: no request, no API. Every piece of text goes through markupsafe (escaped), colours come
from classes in console-reports.css (the CSP allows no inline style), and each chart carries
its figures in words in <title> and <desc>, so that colour is never the only carrier. The
second part of a split bar is hatched as well as coloured."""

from dataclasses import dataclass

from markupsafe import Markup, escape

ROW = 26  # px per bar
BAR = 16  # px, a bar's thickness
GROUP_GAP = 10  # px between the groups of a split chart
LABEL = 200  # px for a group's name
NAME = 120  # px for a measure's name (split charts with several bars a group)
TRACK = 260  # px, a whole bar
GAP = 8
TEXT = 280  # px for the figures beside a bar
VALUE_TEXT = 130  # px for a value beside its bar ("12 h 5 min", "140 tickets")
LABEL_CHARS = 24  # what fits in LABEL at the stylesheet's size; the rest is in <title>


@dataclass(frozen=True)
class SplitBar:
    """One bar: `first` (met, good) then `second` (breached, bad); `share_pct` is the share
    of `first` as the API computed it (None: nothing to share)."""

    name: str  # the measure ("First response"); "" when a group has one bar
    first: int
    second: int
    share_pct: float | None


@dataclass(frozen=True)
class SplitGroup:
    label: str
    bars: tuple[SplitBar, ...]


@dataclass(frozen=True)
class SplitChart:
    id: str  # unique on the page: its elements' ids start with it
    title: str
    first_word: str  # "met", "good"
    second_word: str  # "breached", "bad"
    groups: tuple[SplitGroup, ...]


@dataclass(frozen=True)
class ValueBar:
    label: str
    value: float | None  # None: no figure (drawn as words only)
    text: str  # the value as people read it: "3 h 12 min", "12 tickets"


@dataclass(frozen=True)
class ValueChart:
    id: str
    title: str
    bars: tuple[ValueBar, ...]
    titled: bool = False  # the title written above the bars (several charts in one figure)


def percent(value: float) -> str:
    """92.31 -> "92.3%", 100.0 -> "100%"."""
    return f"{round(value, 1):g}%"


def duration(seconds: float) -> str:
    """Business seconds as people read them: "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def split_text(bar: SplitBar, first_word: str, second_word: str) -> str:
    """The bar's figures in words: "92.3% met: 46 met, 4 breached" (no share of nothing)."""
    counts = f"{bar.first} {first_word}, {bar.second} {second_word}"
    if bar.share_pct is None:
        return counts
    return f"{percent(bar.share_pct)} {first_word}: {counts}"


def split_chart(chart: SplitChart) -> Markup:
    named = any(bar.name for group in chart.groups for bar in group.bars)
    track_x = LABEL + (NAME if named else 0)
    width = track_x + TRACK + GAP + TEXT
    rows: list[Markup] = []
    said: list[str] = []
    y = 0
    for group in chart.groups:
        rows.append(_label(group.label, y))
        for bar in group.bars:
            text = split_text(bar, chart.first_word, chart.second_word)
            said.append(f"{group.label}{f', {bar.name}' if bar.name else ''}: {text}.")
            if bar.name:
                rows.append(_text(LABEL, y, bar.name, "chart-name"))
            rows.append(_split_bar(chart.id, bar, track_x, y))
            rows.append(_text(track_x + TRACK + GAP, y, text, "chart-figure"))
            y += ROW
        y += GROUP_GAP
    defs = Markup(
        '<defs><pattern id="{0}-hatch" width="6" height="6" patternUnits="userSpaceOnUse"'
        ' patternTransform="rotate(45)"><rect width="6" height="6" class="hatch-ground"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke-width="3" class="hatch-line"/></pattern>'
        "</defs>"
    ).format(chart.id)
    height = max(y - GROUP_GAP, ROW)
    return _svg(
        chart.id, title=chart.title, said=said, width=width, height=height, body=defs + _join(rows)
    )


def value_chart(chart: ValueChart) -> Markup:
    width = LABEL + TRACK + GAP + VALUE_TEXT
    top = max((bar.value for bar in chart.bars if bar.value is not None), default=0.0)
    top_y = ROW if chart.titled else 0
    rows = [_text(0, 0, chart.title, "chart-title")] if chart.titled else []
    for index, bar in enumerate(chart.bars):
        y = top_y + index * ROW
        rows.append(_label(bar.label, y))
        if bar.value is not None and top > 0:
            # A value above zero is never drawn thinner than a hairline.
            length = max(TRACK * bar.value / top, 2.0) if bar.value > 0 else 0.0
            rows.append(_rect(LABEL, y, length, "bar-value"))
        rows.append(_text(LABEL + TRACK + GAP, y, bar.text, "chart-figure"))
    said = [f"{bar.label}: {bar.text}." for bar in chart.bars]
    height = top_y + max(len(chart.bars), 1) * ROW
    return _svg(
        chart.id, title=chart.title, said=said, width=width, height=height, body=_join(rows)
    )


def _svg(
    chart_id: str, *, title: str, said: list[str], width: int, height: int, body: Markup
) -> Markup:
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img"'
        ' viewBox="0 0 {w} {h}" width="{w}" height="{h}"'
        ' aria-labelledby="{id}-title {id}-desc">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>{body}</svg>'
    ).format(id=chart_id, w=width, h=height, title=title, desc=" ".join(said), body=body)


def _split_bar(chart_id: str, bar: SplitBar, x: int, y: int) -> Markup:
    whole = bar.first + bar.second
    parts: list[Markup] = []
    if whole:
        first = TRACK * bar.first / whole
        if bar.first:
            parts.append(_rect(x, y, first, "part-first"))
        if bar.second:
            parts.append(
                Markup(
                    '<rect x="{0:.1f}" y="{1}" width="{2:.1f}" height="{3}" class="part-second"'
                    ' fill="url(#{4}-hatch)"/>'
                ).format(x + first, y + (ROW - BAR) // 2, TRACK - first, BAR, chart_id)
            )
    parts.append(_rect(x, y, TRACK, "track"))
    return _join(parts)


def _rect(x: float, y: int, length: float, css: str) -> Markup:
    return Markup('<rect x="{0:.1f}" y="{1}" width="{2:.1f}" height="{3}" class="{4}"/>').format(
        x, y + (ROW - BAR) // 2, length, BAR, css
    )


def _label(label: str, y: int) -> Markup:
    """A group's name, cut to fit; the whole of it in its <title> (a tooltip)."""
    shown = label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"
    return Markup(
        '<text x="0" y="{0}" dominant-baseline="middle" class="chart-label">'
        "<title>{1}</title>{2}</text>"
    ).format(y + ROW // 2, label, shown)


def _text(x: int, y: int, text: str, css: str) -> Markup:
    return Markup('<text x="{0}" y="{1}" dominant-baseline="middle" class="{2}">{3}</text>').format(
        x, y + ROW // 2, css, text
    )


def _join(parts: list[Markup]) -> Markup:
    return Markup("").join(escape(part) for part in parts)
