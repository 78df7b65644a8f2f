"""The bare engine for comparison: a workflow that does nothing but answer an update."""

from datetime import datetime, timedelta

from temporalio import workflow


@workflow.defn(name="BareWorkflow")
class BareWorkflow:
    def __init__(self) -> None:
        self._done = False
        self._count = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._done, timeout=timedelta(hours=1))
        return self._count

    @workflow.update
    def ping(self, value: int) -> int:
        self._count += 1
        return value

    @workflow.signal
    def finish(self) -> None:
        self._done = True


@workflow.defn(name="BareTimerWorkflow")
class BareTimerWorkflow:
    """The bare engine's timer: sleep until a deadline, report how late it fired (seconds)."""

    @workflow.run
    async def run(self, deadline: datetime) -> float:
        await workflow.sleep(max(deadline - workflow.now(), timedelta(0)))
        return (workflow.now() - deadline).total_seconds()
