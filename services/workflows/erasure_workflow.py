"""`ErasureWorkflow`: erase one requester's personal data on request (GDPR Art. 17), durably:
a crash midway resumes where it stopped, and every step is safe to run again.

For each of the person's tickets: close it through the ticket service and wait until its
workflow has ended (`settle_ticket`), then scrub it (`scrub_ticket`: files, database rows, the
data key of its Temporal history). Last, the address's rows outside its tickets, and the
erasure forgets the address (`forget_requester`). The address itself never enters this
workflow's history: its input is the erasure's id, and its activities read the address from
the erasure's record.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from services.workflows.erasure_activities import ErasureActivities
    from shared.domain.erasure import ErasureInput, ErasureResult
    from shared.temporal import names

DATABASE_TIMEOUT = timedelta(seconds=30)
# A close waits for its command (COMMAND_TIMEOUT_SECONDS), then a few seconds for the end.
SETTLE_TIMEOUT = timedelta(seconds=60)
# Files leave the blob store one by one.
SCRUB_TIMEOUT = timedelta(minutes=5)
# Both heartbeat as they go: a worker that dies midway is noticed this soon, not at the end
# of their timeouts.
HEARTBEAT = timedelta(seconds=10)
# Until the ticket's workflow has ended, or a dependency is back: however long that takes.
PATIENT = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)


async def scrub(number: str) -> bool:
    """From a workflow (this one, and the retention workflow): erase ticket `number`'s
    personal data (ErasureActivities.scrub_ticket); False if its workflow runs again."""
    return await workflow.execute_activity_method(
        ErasureActivities.scrub_ticket,
        number,
        start_to_close_timeout=SCRUB_TIMEOUT,
        heartbeat_timeout=HEARTBEAT,
        retry_policy=PATIENT,
        summary=f"erase #{number}",
    )


@workflow.defn(name=names.ERASURE_WORKFLOW)
class ErasureWorkflow:
    @workflow.run
    async def run(self, data: ErasureInput) -> ErasureResult:
        numbers = data.remaining
        if numbers is None:
            numbers = await workflow.execute_activity_method(
                ErasureActivities.requester_tickets,
                data.erasure_id,
                start_to_close_timeout=DATABASE_TIMEOUT,
                retry_policy=PATIENT,
                summary="find the requester's tickets",
            )
        erased = data.erased
        for position, number in enumerate(numbers):
            if workflow.info().is_continue_as_new_suggested():
                carried = ErasureInput(
                    erasure_id=data.erasure_id, remaining=numbers[position:], erased=erased
                )
                workflow.continue_as_new(carried)
            workflow.set_current_details(f"Erasing ticket {position + 1} of {len(numbers)}")
            await self._erase(number)
            erased += 1
        await workflow.execute_activity_method(
            ErasureActivities.forget_requester,
            data.erasure_id,
            start_to_close_timeout=DATABASE_TIMEOUT,
            retry_policy=PATIENT,
            summary="the address's other rows; forget the address",
        )
        return ErasureResult(tickets=erased)

    async def _erase(self, number: str) -> None:
        """Close, settle and scrub one ticket; again if a command restarts it meanwhile."""
        while True:
            await workflow.execute_activity_method(
                ErasureActivities.settle_ticket,
                number,
                start_to_close_timeout=SETTLE_TIMEOUT,
                heartbeat_timeout=HEARTBEAT,
                retry_policy=PATIENT,
                summary=f"close #{number} and wait for its workflow to end",
            )
            if await scrub(number):
                return
