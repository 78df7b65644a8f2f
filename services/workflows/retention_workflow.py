"""`RetentionWorkflow`: erase the personal data of tickets closed more than RETENTION_DAYS ago,
and of inbound mail on no ticket received as long ago. Started daily by its schedule
(services.workflows.retention_schedule); each ticket is scrubbed as an erasure on request
scrubs it, its report facts kept."""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from services.workflows.erasure_activities import ErasureActivities
    from services.workflows.erasure_workflow import DATABASE_TIMEOUT, PATIENT, scrub
    from shared.domain.erasure import ExpiredPage, RetentionInput, RetentionResult
    from shared.temporal import names

PAGE = 100


@workflow.defn(name=names.RETENTION_WORKFLOW)
class RetentionWorkflow:
    @workflow.run
    async def run(self, data: RetentionInput) -> RetentionResult:
        cutoff = data.cutoff or workflow.now() - timedelta(days=data.days)
        after, erased, skipped = data.after, data.erased, data.skipped
        while True:
            page = await workflow.execute_activity_method(
                ErasureActivities.expired_tickets,
                ExpiredPage(cutoff=cutoff, after=after, limit=PAGE),
                start_to_close_timeout=DATABASE_TIMEOUT,
                retry_policy=PATIENT,
                summary=f"tickets closed before {cutoff:%Y-%m-%d %H:%M} UTC",
            )
            for number in page:
                scrubbed = await scrub(number)
                erased, skipped = (erased + 1, skipped) if scrubbed else (erased, skipped + 1)
            if len(page) < PAGE:
                break
            after = page[-1]
            if workflow.info().is_continue_as_new_suggested():
                carried = RetentionInput(
                    days=data.days, cutoff=cutoff, after=after, erased=erased, skipped=skipped
                )
                workflow.continue_as_new(carried)
        mail = await workflow.execute_activity_method(
            ErasureActivities.scrub_old_mail,
            cutoff,
            start_to_close_timeout=DATABASE_TIMEOUT,
            retry_policy=PATIENT,
            summary="inbound mail on no ticket",
        )
        return RetentionResult(erased=erased, skipped=skipped, mail=mail)
