"""SLA clocks: start, stop, pause and re-time the runs of a ticket's clocks. Pure, no I/O.

Targets count in business time of the ticket's schedule (24/7 when it has none); a paused
clock's due time moves on by the business time it spent paused.
"""

from datetime import datetime, timedelta

from services.workflows.v1.models import ClockRun, SlaPlanSnapshot, TicketState
from services.workflows.v1.sla import first_response_target, resolution_target
from shared.domain.business_time import Schedule, add_business_time, business_time_between
from shared.domain.enums import ClockOutcome, Priority, SlaClock, TicketStatus

ALWAYS = Schedule.always()


def schedule_of(state: TicketState) -> Schedule:
    return state.sla_plan.schedule or ALWAYS


def target_for(plan: SlaPlanSnapshot, clock: SlaClock, priority: Priority) -> timedelta | None:
    if clock is SlaClock.FIRST_RESPONSE:
        return first_response_target(plan, priority)
    if clock is SlaClock.RESOLUTION:
        return resolution_target(plan, priority)
    return plan.next_response


def running(state: TicketState, clock: SlaClock) -> ClockRun | None:
    for run in reversed(state.clocks):
        if run.clock is clock and run.running:
            return run
    return None


def start(state: TicketState, clock: SlaClock, now: datetime) -> ClockRun | None:
    """Start a new run of `clock` unless one is running or the plan has no such target."""
    target = target_for(state.sla_plan, clock, state.priority)
    if target is None or running(state, clock) is not None:
        return None
    cycle = 1 + sum(1 for run in state.clocks if run.clock is clock)
    due = add_business_time(schedule_of(state), now, target)
    run = ClockRun(clock=clock, cycle=cycle, started_at=now, target=target, due_at=due)
    state.clocks.append(run)
    return run


def stop(state: TicketState, clock: SlaClock, now: datetime, *, satisfied: bool) -> None:
    """Stop the running run of `clock`: met or late if its action happened, else cancelled."""
    run = running(state, clock)
    if run is None:
        return
    _resume_run(state, run, now)
    run.stopped_at = now
    if not satisfied:
        run.outcome = ClockOutcome.CANCELLED
    elif run.breached_at is None and now <= run.due_at:
        run.outcome = ClockOutcome.MET
    else:
        run.outcome = ClockOutcome.LATE
        run.breached_at = run.breached_at or run.due_at
    run.business_elapsed = (
        business_time_between(schedule_of(state), run.started_at, now) - run.paused
    )
    run.wall_elapsed = now - run.started_at


def stop_all(state: TicketState, now: datetime, *, satisfied: bool) -> None:
    for clock in SlaClock:
        stop(state, clock, now, satisfied=satisfied)


def pause(state: TicketState, clock: SlaClock, now: datetime) -> None:
    run = running(state, clock)
    if run is not None and run.paused_since is None:
        run.paused_since = now


def resume(state: TicketState, clock: SlaClock, now: datetime) -> None:
    run = running(state, clock)
    if run is not None:
        _resume_run(state, run, now)


def _resume_run(state: TicketState, run: ClockRun, now: datetime) -> None:
    if run.paused_since is None:
        return
    run.paused += business_time_between(schedule_of(state), run.paused_since, now)
    run.paused_since = None
    run.due_at = due_time(state, run, run.target)


def due_time(state: TicketState, run: ClockRun, offset: timedelta) -> datetime:
    """When `offset` of business time has elapsed on `run`, not counting its paused time."""
    return add_business_time(schedule_of(state), run.started_at, offset + run.paused)


def retime(state: TicketState, now: datetime) -> None:
    """Recompute targets and due times (priority or schedule changed); a breached clock whose
    new due time is still ahead is armed again."""
    for run in state.clocks:
        if not run.running:
            continue
        target = target_for(state.sla_plan, run.clock, state.priority)
        if target is not None:
            run.target = target
        if run.paused_since is None:
            run.due_at = due_time(state, run, run.target)
        if run.breached_at is not None and run.due_at > now:
            run.breached_at = None


def refresh(state: TicketState) -> None:
    """Derived fields the API, the projection and the search attributes read."""
    live = {run.clock: run for run in state.clocks if run.running}
    first, nxt, res = (live.get(c) for c in SlaClock)
    state.first_response_due = first.due_at if first else None
    state.next_response_due = nxt.due_at if nxt else None
    state.resolution_due = res.due_at if res else None
    unpaused = [r.due_at for r in live.values() if r.paused_since is None and r.breached_at is None]
    state.next_due_at = min(unpaused, default=None)
    state.breached = [run.clock for run in live.values() if run.breached_at is not None]
    state.overdue = state.status in (TicketStatus.OPEN, TicketStatus.PENDING) and bool(
        state.breached
    )
    state.sla_breached = any(run.breached_at is not None for run in state.clocks)
