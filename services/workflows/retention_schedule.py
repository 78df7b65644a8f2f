"""The retention schedule: with RETENTION_DAYS set, Temporal starts `RetentionWorkflow` daily.

Every worker brings the schedule in line with its settings as it starts: created if missing,
replaced if made for another RETENTION_DAYS (or task queue), deleted when the setting is
unset. Running it again changes nothing; workers starting together may race, and both end
with the same schedule.
"""

from datetime import timedelta
from enum import StrEnum

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from services.workflows.retention_workflow import RetentionWorkflow
from shared.domain.erasure import RetentionInput
from shared.settings import Settings
from shared.temporal import names

# Daily at 03:00 UTC, when desks are quiet in most of the world.
EVERY = timedelta(days=1)
AT = timedelta(hours=3)


class ScheduleChange(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DELETED = "deleted"
    ABSENT = "absent"


def retention_schedule(days: int, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            RetentionWorkflow.run,
            RetentionInput(days=days),
            id=names.RETENTION_WORKFLOW.lower(),
            task_queue=task_queue,
            static_summary=f"Erase tickets closed more than {days} days ago",
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=EVERY, offset=AT)]),
        # A run still going when the next is due (a large first run): the next is skipped.
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(note=_note(days, task_queue)),
    )


def _note(days: int, task_queue: str) -> str:
    """What the schedule was made for, readable in the UI and compared at each start."""
    return f"ticketflow retention v1: RETENTION_DAYS={days}, task queue {task_queue}"


async def sync_retention_schedule(client: Client, settings: Settings) -> ScheduleChange:
    handle = client.get_schedule_handle(names.RETENTION_SCHEDULE)
    days = settings.retention_days
    if days is None:
        try:
            await handle.delete()
        except RPCError as err:
            if err.status is RPCStatusCode.NOT_FOUND:
                return ScheduleChange.ABSENT
            raise
        return ScheduleChange.DELETED
    wanted = retention_schedule(days, settings.temporal_task_queue)
    try:
        await client.create_schedule(names.RETENTION_SCHEDULE, wanted)
        return ScheduleChange.CREATED
    except ScheduleAlreadyRunningError:
        pass
    described = await handle.describe()
    if described.schedule.state.note == wanted.state.note:
        return ScheduleChange.UNCHANGED

    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await handle.update(replace)
    return ScheduleChange.UPDATED
