"""Reports as CSV: the JSON rows flattened, one line per row, empty cells for nulls."""

import csv
import io
from collections.abc import Iterable, Sequence

from services.intake.reports.schemas import AgentReport, ClockStats, SlaLine, SlaReport

CLOCKS = ("first_response", "next_response", "resolution")
BACKLOG = {
    "under_1d": "backlog_lt_1d",
    "from_1d_to_3d": "backlog_1_3d",
    "from_3d_to_7d": "backlog_3_7d",
    "over_7d": "backlog_gt_7d",
}
Cell = str | int | float | None


def sla_csv(report: SlaReport) -> str:
    """`row` is "group" or "total" (the totals line, last); `group` is the dimension's value."""
    header = ["row", "group", "opened", "resolved", "closed", "reopened", "overdue"]
    header += [f"{clock}_{name}" for clock in CLOCKS for name in ClockStats.model_fields]
    header += list(BACKLOG.values())
    lines = [_sla_line("group", row) for row in report.rows]
    lines.append(_sla_line("total", report.totals))
    return _render(header, lines)


def agents_csv(report: AgentReport) -> str:
    header = [
        "agent",
        "assigned",
        "responded",
        "resolved",
        "first_response_median_s",
        "resolution_median_s",
        "breaches",
    ]
    return _render(header, ([getattr(row, name) for name in header] for row in report.rows))


def _sla_line(kind: str, row: SlaLine) -> list[Cell]:
    line: list[Cell] = [kind, row.group, row.opened, row.resolved, row.closed, row.reopened]
    line.append(row.overdue)
    for clock in CLOCKS:
        stats: ClockStats = getattr(row, clock)
        line += [getattr(stats, name) for name in ClockStats.model_fields]
    line += [getattr(row.backlog, name) for name in BACKLOG]
    return line


def _render(header: Sequence[str], lines: Iterable[Sequence[Cell]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if cell is None else cell for cell in line] for line in lines)
    return out.getvalue()
