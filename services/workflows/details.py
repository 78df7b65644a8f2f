"""The ticket as the Temporal UI's "Current Details" shows it: Markdown for a person."""

from datetime import datetime, timedelta

from shared.domain.external_refs import url_problem
from shared.domain.models import ClockRun, ExternalRef, TicketState


def current_details(state: TicketState, now: datetime) -> str:
    lines = [
        f"**#{state.number}** {state.subject}",
        "",
        f"- status: **{state.status.value}**, priority: **{state.priority.value}**",
        f"- department: {state.department}, team: {state.team or 'none'}, "
        f"assignee: {state.assignee or 'nobody'}",
        f"- messages: {state.thread_count}, escalation level: {state.escalation_level}"
        + (", **overdue**" if state.overdue else ""),
    ]
    if state.external_refs:
        lines.append("- linked: " + ", ".join(_ref(ref) for ref in state.external_refs))
    lines += [f"- {_clock(run, now)}" for run in state.clocks if run.running]
    if state.remind_at is not None:
        lines.append(f"- pending: reminder {_when(state.remind_at, now)}")
    if state.auto_close_at is not None:
        lines.append(f"- resolved: closes by itself {_when(state.auto_close_at, now)}")
    return "\n".join(lines)


def _ref(ref: ExternalRef) -> str:
    """Markdown: the reference, linking to its record when it has a (valid) url."""
    label = ref.label.replace("[", "\\[").replace("]", "\\]")
    if ref.url is None or url_problem(ref.url) is not None:
        return label
    return f"[{label}]({ref.url.replace('(', '%28').replace(')', '%29')})"


def _clock(run: ClockRun, now: datetime) -> str:
    name = run.clock.value.replace("_", " ")
    if run.paused_since is not None:
        return f"{name}: paused since {_time(run.paused_since)}"
    if run.breached_at is not None:
        return f"{name}: **breached** at {_time(run.breached_at)}"
    return f"{name}: due {_when(run.due_at, now)}"


def _when(at: datetime, now: datetime) -> str:
    left = at - now
    if left <= timedelta(0):
        return f"at {_time(at)} (passed)"
    return f"at {_time(at)} (in {_span(left)})"


def _span(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days} d"] if days else []
    parts += [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes or not parts else []
    return " ".join(parts)


def _time(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC"
