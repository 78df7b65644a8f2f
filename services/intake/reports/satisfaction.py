"""The satisfaction report: requesters' ratings of closed tickets in a window, grouped by
team, agent (the assignee when rated) or help topic, with the comments."""

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session

from services.intake.reports.schemas import (
    RatingComment,
    SatisfactionGroupBy,
    SatisfactionLine,
    SatisfactionQuery,
    SatisfactionReport,
)
from services.intake.reports.scope import Scope
from shared.db.tables import MessageBodyRow, TicketEventFactRow
from shared.domain.enums import EventKind, Rating

# The comments a report lists: the latest, each cut to this length.
COMMENTS_LISTED = 100
COMMENT_CHARS = 500


def satisfaction_report(
    *, session: Session, query: SatisfactionQuery, scope: Scope
) -> SatisfactionReport:
    facts = TicketEventFactRow
    group: InstrumentedAttribute[str | None] = _GROUPS[query.group_by]
    stmt = (
        select(group, facts.rating, facts.ticket, facts.at, facts.comment)
        .where(
            facts.kind == EventKind.RATED.value,
            facts.at >= query.from_,
            facts.at < query.to,
            scope.covers(facts.team),
        )
        .order_by(facts.at.desc())
    )
    tallies: dict[str | None, dict[Rating, int]] = defaultdict(lambda: dict.fromkeys(Rating, 0))
    commented: list[tuple[str, Rating, str, datetime]] = []
    for key, value, ticket, at, comment in session.execute(stmt):
        if value is None:
            continue  # a rated fact always has its rating
        rating = Rating(value)
        tallies[key][rating] += 1
        if comment is not None and len(commented) < COMMENTS_LISTED:
            commented.append((ticket, rating, comment, at))
    rows = [_row(key, counts) for key, counts in sorted(tallies.items(), key=_order)]
    total: dict[Rating, int] = dict.fromkeys(Rating, 0)
    for counts in tallies.values():
        for rating, n in counts.items():
            total[rating] += n
    bodies = _bodies(session, [comment for _, _, comment, _ in commented])
    comments = [
        RatingComment(
            ticket=ticket,
            rating=Rating(rating),
            at=at,
            text=bodies.get(comment, "")[:COMMENT_CHARS],
        )
        for ticket, rating, comment, at in commented
    ]
    return SatisfactionReport(
        from_=query.from_,
        to=query.to,
        group_by=query.group_by,
        rows=rows,
        total=_row(None, total),
        comments=comments,
    )


_GROUPS: dict[SatisfactionGroupBy, InstrumentedAttribute[str | None]] = {
    SatisfactionGroupBy.TEAM: TicketEventFactRow.team,
    SatisfactionGroupBy.AGENT: TicketEventFactRow.assignee,
    SatisfactionGroupBy.HELP_TOPIC: TicketEventFactRow.help_topic,
}


def _order(item: tuple[str | None, dict[Rating, int]]) -> tuple[bool, str]:
    return (item[0] is None, item[0] or "")


def _row(key: str | None, counts: dict[Rating, int]) -> SatisfactionLine:
    good, bad = counts[Rating.GOOD], counts[Rating.BAD]
    rated = good + bad
    return SatisfactionLine(
        group=key, rated=rated, good=good, bad=bad, score=round(good / rated, 4) if rated else None
    )


def _bodies(session: Session, ids: list[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(MessageBodyRow.id, MessageBodyRow.body).where(MessageBodyRow.id.in_(ids))
    )
    return {row_id: body for row_id, body in rows}
