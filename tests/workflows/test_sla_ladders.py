"""Issue 3 on the time-skipping server: ladders, warnings, pausing, next response, calendars."""

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from services.workflows.ticket_workflow import TicketWorkflow
from shared.domain.business_time import MonthDay, OpeningInterval, Schedule, add_business_time
from shared.domain.enums import Action, ClockOutcome, EventKind, Priority, SlaClock, TicketStatus
from shared.domain.models import Ladder, LadderStep
from tests.builders import PLAN, REQUESTER, cmd, new_input, ref
from tests.workflows.conftest import RecordingNotifier, send, start

LADDER = Ladder(
    steps=[
        LadderStep(name="warning", at_percent=75, notify=["assignee"]),
        LadderStep(name="L1", after_breach=timedelta(0), notify=["owner"]),
        LadderStep(
            name="L2",
            after_breach=timedelta(hours=1),
            notify=["team_lead", "department_manager"],
            raise_priority=True,
        ),
    ],
    repeat_every=timedelta(hours=2),
    repeat_max=2,
)
LADDER_PLAN = PLAN.model_copy(
    update={
        "resolution": timedelta(hours=8),
        "first_response": timedelta(days=30),
        "next_response": timedelta(hours=2),
        "ladders": {SlaClock.RESOLUTION: LADDER},
    }
)
LONDON = ZoneInfo("Europe/London")
OFFICE = Schedule(
    timezone="Europe/London",
    hours={d: [OpeningInterval(start=time(9), end=time(17))] for d in range(5)},
    yearly_holidays=[MonthDay(month=12, day=25)],
)


def steps(notifier: RecordingNotifier, number: str) -> list[tuple[str, str]]:
    return [k for k in notifier.kinds(number) if k[0] in ("sla_warning", "escalation")]


async def test_ladder_warns_then_escalates_in_order_and_caps_reminders(
    worker: tuple[Client, str], time_env: WorkflowEnvironment, notifier: RecordingNotifier
) -> None:
    client, queue = worker
    data = new_input(sla_plan=LADDER_PLAN, assignee="john")
    handle = await start(client, queue, data)
    await time_env.sleep(timedelta(hours=6, minutes=1))
    assert steps(notifier, data.number) == [("sla_warning", "assignee")]
    await time_env.sleep(timedelta(hours=2))  # 8h01: breach, L1 to the owner (the assignee)
    state = await handle.query(TicketWorkflow.state)
    assert state.escalation_level == 1 and state.overdue and state.sla_breached
    assert steps(notifier, data.number)[-1] == ("escalation", "assignee")
    await time_env.sleep(timedelta(hours=1))  # 9h01: L2 raises priority, tells lead and manager
    state = await handle.query(TicketWorkflow.state)
    assert state.escalation_level == 2 and state.priority is Priority.HIGH
    assert set(steps(notifier, data.number)[-2:]) == {
        ("escalation", "team_lead"),
        ("escalation", "department_manager"),
    }
    await time_env.sleep(timedelta(hours=10))  # reminders at +2h and +4h, then no more
    state = await handle.query(TicketWorkflow.state)
    timeline = notifier.timeline(data.number)
    reminders = [e for e in timeline if e.kind is EventKind.SLA_REMINDER]
    assert [e.detail["step"] for e in reminders] == ["r1", "r2"]
    escalated = [e for e in timeline if e.kind is EventKind.ESCALATED]
    assert [e.detail["step"] for e in escalated] == ["L1", "L2"]


async def test_resolving_before_the_warning_cancels_the_whole_ladder(
    worker: tuple[Client, str], time_env: WorkflowEnvironment, notifier: RecordingNotifier
) -> None:
    client, queue = worker
    data = new_input(sla_plan=LADDER_PLAN, assignee="john")
    handle = await start(client, queue, data)
    await time_env.sleep(timedelta(hours=1))
    await send(handle, cmd(Action.RESOLVE, resolution=ref("ok")))
    await time_env.sleep(timedelta(hours=12))
    assert steps(notifier, data.number) == []
    assert notifier.clock_outcomes(data.number, SlaClock.RESOLUTION) == [ClockOutcome.MET]


async def test_pending_pauses_resolution_and_resuming_never_escalates_on_the_spot(
    worker: tuple[Client, str], time_env: WorkflowEnvironment, notifier: RecordingNotifier
) -> None:
    client, queue = worker
    data = new_input(sla_plan=LADDER_PLAN, assignee="john")
    handle = await start(client, queue, data)
    await time_env.sleep(timedelta(hours=2))
    remind_at = (await handle.query(TicketWorkflow.state)).created_at + timedelta(hours=20)
    state = await send(handle, cmd(Action.SET_PENDING, remind_at=remind_at))
    assert state.status is TicketStatus.PENDING
    await time_env.sleep(timedelta(hours=24))  # far past the 8h target, but paused
    state = await handle.query(TicketWorkflow.state)
    assert state.escalation_level == 0 and not state.overdue
    assert ("pending_reminder", "assignee") in notifier.kinds(data.number)
    state = await send(handle, cmd(Action.REQUESTER_REPLY, REQUESTER, message=ref("here you go")))
    assert state.status is TicketStatus.OPEN and state.escalation_level == 0
    resolution = next(r for r in state.clocks if r.clock is SlaClock.RESOLUTION)
    assert resolution.paused >= timedelta(hours=24)
    assert resolution.due_at >= resolution.started_at + timedelta(hours=32)
    assert steps(notifier, data.number) == []


async def test_next_response_clock_runs_from_each_unanswered_requester_message(
    worker: tuple[Client, str], time_env: WorkflowEnvironment, notifier: RecordingNotifier
) -> None:
    client, queue = worker
    data = new_input(sla_plan=LADDER_PLAN, assignee="john")
    handle = await start(client, queue, data)
    await send(handle, cmd(Action.RESPOND, message=ref("hello")))
    await send(handle, cmd(Action.REQUESTER_REPLY, REQUESTER, message=ref("more info")))
    await time_env.sleep(timedelta(hours=1))
    await send(handle, cmd(Action.RESPOND, message=ref("ok")))
    assert notifier.clock_outcomes(data.number, SlaClock.NEXT_RESPONSE) == [ClockOutcome.MET]
    await send(handle, cmd(Action.REQUESTER_REPLY, REQUESTER, message=ref("still broken")))
    await time_env.sleep(timedelta(hours=2, minutes=1))
    state = await handle.query(TicketWorkflow.state)
    runs = [r for r in state.clocks if r.clock is SlaClock.NEXT_RESPONSE]
    assert [r.cycle for r in runs] == [2] and runs[0].breached_at is not None and state.overdue


async def test_business_hours_due_time_skips_nights_weekends_and_holidays(
    worker: tuple[Client, str], time_env: WorkflowEnvironment
) -> None:
    client, queue = worker
    now = await time_env.get_current_time()
    # The next working day is a holiday: a 12-hour target must spill past it.
    day = now.astimezone(LONDON).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    schedule = OFFICE.model_copy(update={"holidays": [day]})
    plan = PLAN.model_copy(update={"schedule": schedule, "first_response": timedelta(hours=12)})
    handle = await start(client, queue, new_input(sla_plan=plan))
    state = await handle.query(TicketWorkflow.state)
    assert state.first_response_due is not None
    due = state.first_response_due
    assert due == add_business_time(schedule, state.created_at, timedelta(hours=12))
    local = due.astimezone(LONDON)
    assert local.date() > day and local.weekday() < 5 and time(9) < local.time() <= time(17)
    # The timer honours business time: quiet until the due time, escalated right after it.
    await time_env.sleep(due - timedelta(minutes=1) - state.created_at)
    assert (await handle.query(TicketWorkflow.state)).escalation_level == 0
    await time_env.sleep(timedelta(minutes=2))
    assert (await handle.query(TicketWorkflow.state)).escalation_level == 1
