"""Deadlines of a ticket and what happens when one passes: ladder steps, reminders,
auto-close. Pure, no I/O: the workflow asks `next_trigger` for its timer and calls `fire_due`.

Each ladder step of a clock run fires at most once (its key is remembered on the run), so no
recipient gets the same step twice, and whatever satisfies the clock cancels what is left.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from shared.domain import notices as wording
from shared.domain import sla_clocks
from shared.domain.closing import close_as
from shared.domain.enums import EventKind, NotificationKind, RecipientRole, TicketStatus
from shared.domain.models import Actor, ClockRun, Ladder, LadderStep, Notice, TicketState
from shared.domain.timeline import add_event, notice, owner_role

# Without a ladder, a clock escalates once at its breach to the ticket's owner, as the
# foundation did; a second breach also reaches the department manager.
DEFAULT_LADDER = Ladder(steps=[LadderStep(name="L1", after_breach=timedelta(0))])

BREACH = "breach"


@dataclass(frozen=True)
class Trigger:
    at: datetime
    order: int  # among triggers at the same instant: breach, then steps in ladder order
    key: str
    summary: str
    run: ClockRun | None = None
    step: LadderStep | None = None


def ladder_of(state: TicketState, run: ClockRun) -> Ladder:
    return state.sla_plan.ladders.get(run.clock) or DEFAULT_LADDER


def _run_triggers(state: TicketState, run: ClockRun) -> list[Trigger]:
    if not run.running or run.paused_since is not None:
        return []
    label = f"SLA {run.clock.value.replace('_', ' ')}"
    out: list[Trigger] = []
    if run.breached_at is None:
        out.append(Trigger(run.due_at, 0, BREACH, f"{label} due", run))
    ladder = ladder_of(state, run)
    for index, step in enumerate(ladder.steps):
        key = f"s{index}"
        if key in run.fired:
            continue
        if step.at_percent is not None:
            offset = run.target * step.at_percent / 100
            summary = f"{label}: {step.name} ({step.at_percent}%)"
        else:
            offset = run.target + (step.after_breach or timedelta(0))
            summary = f"{label}: {step.name}"
        out.append(
            Trigger(sla_clocks.due_time(state, run, offset), 1 + index, key, summary, run, step)
        )
    if ladder.repeat_every is not None and run.breached_at is not None:
        done = sum(1 for key in run.fired if key.startswith("r"))
        if done < ladder.repeat_max:
            offset = run.target + ladder.repeat_every * (done + 1)
            at = sla_clocks.due_time(state, run, offset)
            out.append(Trigger(at, 100, f"r{done + 1}", f"{label}: reminder {done + 1}", run))
    return out


def triggers(state: TicketState) -> list[Trigger]:
    out: list[Trigger] = []
    if state.status in (TicketStatus.OPEN, TicketStatus.PENDING):
        for run in state.clocks:
            out += _run_triggers(state, run)
    if state.status is TicketStatus.PENDING and state.remind_at is not None:
        out.append(Trigger(state.remind_at, 200, "remind", "pending: remind if no answer"))
    if state.status is TicketStatus.RESOLVED and state.auto_close_at is not None:
        out.append(Trigger(state.auto_close_at, 300, "auto_close", "auto-close if no reply"))
    return out


def next_trigger(state: TicketState) -> Trigger | None:
    return min(triggers(state), key=lambda t: (t.at, t.order), default=None)


def fire_due(state: TicketState, now: datetime) -> list[Notice]:
    """Fire every trigger that is due by `now`, earliest first."""
    notices: list[Notice] = []
    while (trigger := next_trigger(state)) is not None and trigger.at <= now:
        notices += _fire(state, trigger, now)
        sla_clocks.refresh(state)
        state.version += 1
    return notices


def _fire(state: TicketState, trigger: Trigger, now: datetime) -> list[Notice]:
    run = trigger.run
    if trigger.key == "auto_close":
        return close_as(state, Actor.system(), now, EventKind.AUTO_CLOSED)
    if trigger.key == "remind":
        state.remind_at = None
        seq = add_event(state, EventKind.PENDING_REMINDER, Actor.system(), now)
        return [
            notice(
                NotificationKind.PENDING_REMINDER,
                owner_role(state),
                *wording.pending_reminder(state),
                seq,
            )
        ]
    assert run is not None
    if trigger.key == BREACH:
        run.breached_at = now
        return []
    run.fired.append(trigger.key)
    if trigger.step is None:  # a repeat reminder while breached
        seq = add_event(
            state,
            EventKind.SLA_REMINDER,
            Actor.system(),
            now,
            clock=run.clock.value,
            step=trigger.key,
        )
        return _step_notices(state, run, _last_level(state, run), NotificationKind.ESCALATION, seq)
    return _fire_step(state, run, trigger.step, now, due=trigger.at)


def _fire_step(
    state: TicketState, run: ClockRun, step: LadderStep, now: datetime, *, due: datetime
) -> list[Notice]:
    """Fire a ladder step that was due at `due` (its escalation says so: the publishing side
    measures how late it came)."""
    clock = run.clock.value
    if step.is_warning:
        seq = add_event(
            state, EventKind.SLA_WARNING, Actor.system(), now, clock=clock, step=step.name
        )
        return _step_notices(state, run, step, NotificationKind.SLA_WARNING, seq)
    run.breached_at = run.breached_at or now
    state.escalation_level += 1
    if step.raise_priority:
        order = list(type(state.priority))
        state.priority = order[min(order.index(state.priority) + 1, len(order) - 1)]
        sla_clocks.retime(state, now)
    if step.reassign_team and step.reassign_team != state.team:
        state.team = step.reassign_team
    seq = add_event(
        state,
        EventKind.ESCALATED,
        Actor.system(),
        now,
        clock=clock,
        step=step.name,
        level=str(state.escalation_level),
        due_at=due.isoformat(),
    )
    notices = _step_notices(state, run, step, NotificationKind.ESCALATION, seq)
    uses_default = ladder_of(state, run) is DEFAULT_LADDER
    if (
        uses_default
        and state.escalation_level >= 2
        and owner_role(state) is not RecipientRole.DEPARTMENT_MANAGER
    ):
        notices.append(
            _escalation_notice(
                state, run, RecipientRole.DEPARTMENT_MANAGER, None, seq, NotificationKind.ESCALATION
            )
        )
    return notices


def _last_level(state: TicketState, run: ClockRun) -> LadderStep:
    steps = ladder_of(state, run).steps
    fired = [steps[int(key[1:])] for key in run.fired if key.startswith("s")]
    levels = [step for step in fired if not step.is_warning]
    return levels[-1] if levels else DEFAULT_LADDER.steps[0]


def _step_notices(
    state: TicketState, run: ClockRun, step: LadderStep, kind: NotificationKind, seq: int
) -> list[Notice]:
    notices = []
    for target in step.notify:
        token, _, handle = target.partition(":")
        if token == "owner":
            role = owner_role(state)
        elif token == "team":
            role = RecipientRole.TEAM
        elif token == "agent":
            role = RecipientRole.AGENT
        else:
            role = RecipientRole(token)
        notices.append(_escalation_notice(state, run, role, handle or None, seq, kind))
    return notices


def _escalation_notice(
    state: TicketState,
    run: ClockRun,
    role: RecipientRole,
    handle: str | None,
    seq: int,
    kind: NotificationKind,
) -> Notice:
    warning = kind is NotificationKind.SLA_WARNING
    text = wording.sla_warning(state, run) if warning else wording.escalation(state, run)
    return notice(kind, role, *text, seq, handle=handle)
