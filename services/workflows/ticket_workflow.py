"""`TicketWorkflow`: one durable workflow per ticket, the source of truth for its state.

Lean by design: each workflow task that changes the ticket ends in one local activity that
publishes the change (projection, thread, timeline, facts and notification outbox in one
transaction). Message bodies never enter the workflow: commands carry references. One timer
is armed for the earliest deadline and kept while later deadlines come and go.
"""

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.workflows.activities import TicketActivities
    from services.workflows.details import current_details
    from shared.domain import lifecycle
    from shared.domain.enums import Action, TicketStatus
    from shared.domain.lifecycle import IllegalTransition, Refusal
    from shared.domain.models import (
        Notice,
        PublishBatch,
        TicketCommand,
        TicketInput,
        TicketState,
        TicketView,
        clock_facts_of,
    )
    from shared.temporal import names
    from shared.temporal import search_attributes as sa

# Keep this many command ids across continue-as-new: signals are at-least-once, and an API
# retry with the same Idempotency-Key comes within minutes, not thousands of commands later.
SEEN_COMMANDS_KEPT = 500

# Its starters set this: an update not accepted within its deadline plus this never is.
WORKFLOW_TASK_TIMEOUT = timedelta(seconds=5)
PUBLISH_TIMEOUT = timedelta(seconds=10)
# The database may be down for a while: keep trying, the ticket's state is safe meanwhile.
PUBLISH_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
)


@workflow.defn(name=names.WORKFLOW)
class TicketWorkflow:
    @workflow.init
    def __init__(self, data: TicketInput) -> None:
        self._outbox: list[Notice] = []
        if data.prior_state is not None:
            # Carried from a run that ended idle, or restored from the projection: published.
            self._state = data.prior_state
            self._published = self._state.version
        else:
            self._state, self._outbox = lifecycle.open_ticket(data, workflow.now())
            self._published = 0
        self._attributes = sa.current(workflow.info().typed_search_attributes)
        # What the last publish wrote of the clock facts (None: not known in this run).
        self._clock_facts: tuple[object, ...] | None = None
        self._timer: asyncio.Task[None] | None = None
        self._timer_at: datetime | None = None

    @workflow.run
    async def run(self, data: TicketInput) -> TicketView:
        while True:
            self._outbox += lifecycle.fire_due(self._state, workflow.now())
            await self._publish()
            if self._idle():
                if self._state.status is TicketStatus.CLOSED:
                    return TicketView.of(self._state)
                if self._continue_as_new_due(data):
                    seen = list(self._state.seen.items())[-SEEN_COMMANDS_KEPT:]
                    self._state.seen = dict(seen)
                    workflow.continue_as_new(data.model_copy(update={"prior_state": self._state}))
            trigger = lifecycle.next_trigger(self._state)
            if trigger is not None and trigger.at <= workflow.now():
                continue  # came due while publishing
            # A closed ticket, or one due to continue as new, waits only until it is idle;
            # commands that arrive meanwhile are handled as usual.
            ending = self._state.status is TicketStatus.CLOSED or self._continue_as_new_due(data)
            self._arm_timer(trigger)
            await self._wait(self._state.version, ending)

    # --- commands ---------------------------------------------------------------------------
    # Each action is an update named for it (the API's path: its validator refuses an illegal
    # command before it enters history, so the UI's history reads "update.assign"…) and a
    # signal twin (scripts'; an illegal signal is recorded as rejected).

    @workflow.update(name=names.UPDATE_ASSIGN)
    def assign(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @assign.validator
    def _check_assign(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.ASSIGN)

    @workflow.signal(name=names.SIGNAL_ASSIGN)
    def assign_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.ASSIGN)

    @workflow.update(name=names.UPDATE_CHANGE_PRIORITY)
    def change_priority(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @change_priority.validator
    def _check_change_priority(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.CHANGE_PRIORITY)

    @workflow.signal(name=names.SIGNAL_CHANGE_PRIORITY)
    def change_priority_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.CHANGE_PRIORITY)

    @workflow.update(name=names.UPDATE_TRANSFER)
    def transfer(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @transfer.validator
    def _check_transfer(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.TRANSFER)

    @workflow.signal(name=names.SIGNAL_TRANSFER)
    def transfer_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.TRANSFER)

    @workflow.update(name=names.UPDATE_RESPOND)
    def respond(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @respond.validator
    def _check_respond(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.RESPOND)

    @workflow.signal(name=names.SIGNAL_RESPOND)
    def respond_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.RESPOND)

    @workflow.update(name=names.UPDATE_NOTE)
    def note(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @note.validator
    def _check_note(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.NOTE)

    @workflow.signal(name=names.SIGNAL_NOTE)
    def note_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.NOTE)

    @workflow.update(name=names.UPDATE_REQUESTER_REPLY)
    def requester_reply(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @requester_reply.validator
    def _check_requester_reply(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.REQUESTER_REPLY)

    @workflow.signal(name=names.SIGNAL_REQUESTER_REPLY)
    def requester_reply_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.REQUESTER_REPLY)

    @workflow.update(name=names.UPDATE_SET_PENDING)
    def set_pending(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @set_pending.validator
    def _check_set_pending(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.SET_PENDING)

    @workflow.signal(name=names.SIGNAL_SET_PENDING)
    def set_pending_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.SET_PENDING)

    @workflow.update(name=names.UPDATE_RESOLVE)
    def resolve(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @resolve.validator
    def _check_resolve(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.RESOLVE)

    @workflow.signal(name=names.SIGNAL_RESOLVE)
    def resolve_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.RESOLVE)

    @workflow.update(name=names.UPDATE_CLOSE)
    def close(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @close.validator
    def _check_close(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.CLOSE)

    @workflow.signal(name=names.SIGNAL_CLOSE)
    def close_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.CLOSE)

    @workflow.update(name=names.UPDATE_REOPEN)
    def reopen(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @reopen.validator
    def _check_reopen(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.REOPEN)

    @workflow.signal(name=names.SIGNAL_REOPEN)
    def reopen_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.REOPEN)

    @workflow.update(name=names.UPDATE_LINK)
    def link(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @link.validator
    def _check_link(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.LINK)

    @workflow.signal(name=names.SIGNAL_LINK)
    def link_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.LINK)

    @workflow.update(name=names.UPDATE_UNLINK)
    def unlink(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @unlink.validator
    def _check_unlink(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.UNLINK)

    @workflow.signal(name=names.SIGNAL_UNLINK)
    def unlink_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.UNLINK)

    @workflow.update(name=names.UPDATE_RATE)
    def rate(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @rate.validator
    def _check_rate(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.RATE)

    @workflow.signal(name=names.SIGNAL_RATE)
    def rate_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.RATE)

    @workflow.update(name=names.UPDATE_SEND_LINK)
    def send_link(self, cmd: TicketCommand) -> TicketView:
        return self._execute(cmd)

    @send_link.validator
    def _check_send_link(self, cmd: TicketCommand) -> None:
        self._check(cmd, Action.SEND_LINK)

    @workflow.signal(name=names.SIGNAL_SEND_LINK)
    def send_link_signal(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.SEND_LINK)

    @workflow.update(name=names.UPDATE_EXECUTE)
    def execute(self, cmd: TicketCommand) -> TicketView:
        """Any action, as the command says (the path before each action had its update)."""
        return self._execute(cmd)

    @execute.validator
    def _check_execute(self, cmd: TicketCommand) -> None:
        self._check(cmd, cmd.action)

    @workflow.query(name=names.QUERY_STATE)
    def state(self) -> TicketState:
        return self._state

    @workflow.query(name=names.QUERY_VIEW)
    def view(self) -> TicketView:
        return TicketView.of(self._state)

    def _execute(self, cmd: TicketCommand) -> TicketView:
        """Apply `cmd` unless seen before (the same id and request): then answer the ticket as
        it is now."""
        if not self._seen(cmd):
            try:
                self._apply(cmd)
            except IllegalTransition as err:  # state changed between validator and handler
                raise _refusal(err) from err
        return TicketView.of(self._state)

    def _check(self, cmd: TicketCommand, action: Action) -> None:
        if cmd.action is not action:
            reason = f"the update for {action.value} was sent a {cmd.action.value} command"
            raise ApplicationError(reason, type=Refusal.INVALID.value, non_retryable=True)
        if self._seen(cmd):
            return
        try:
            lifecycle.check(self._state, cmd, workflow.now())
        except IllegalTransition as err:
            raise _refusal(err) from err

    def _seen(self, cmd: TicketCommand) -> bool:
        return self._state.seen.get(cmd.command_id, None) == cmd.fingerprint

    def _signal(self, cmd: TicketCommand, action: Action) -> None:
        # The signal's name decides the action, whatever the payload says.
        cmd = cmd.model_copy(update={"action": action})
        if cmd.command_id in self._state.seen:
            return
        try:
            self._apply(cmd)
        except IllegalTransition as err:
            workflow.logger.info("rejected %s: %s", action.value, err.reason)
            lifecycle.reject(self._state, cmd, err.reason, workflow.now())

    def _apply(self, cmd: TicketCommand) -> None:
        self._outbox += lifecycle.apply(self._state, cmd, workflow.now())

    # --- the loop's parts -------------------------------------------------------------------

    def _continue_as_new_due(self, data: TicketInput) -> bool:
        info = workflow.info()
        limit = data.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or (
            limit is not None and info.get_current_history_length() >= limit
        )

    def _idle(self) -> bool:
        """Nothing left to do before the run may end: no handler, notice or write pending."""
        return (
            workflow.all_handlers_finished()
            and not self._outbox
            and self._published == self._state.version
        )

    async def _wait(self, version: int, ending: bool) -> None:
        """Until a command or a deadline changes the ticket (or, when ending, it is idle)."""
        await workflow.wait_condition(
            lambda: (
                self._state.version != version or self._timer_fired() or (ending and self._idle())
            )
        )

    def _arm_timer(self, trigger: lifecycle.Trigger | None) -> None:
        """One timer for the earliest deadline. A timer armed earlier than needed is kept (when
        it fires the loop looks again): moving a deadline later costs no history."""
        if trigger is None:
            return
        armed = self._timer is not None and not self._timer.done()
        if armed and self._timer_at is not None and self._timer_at <= trigger.at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = trigger.at
        self._timer = asyncio.create_task(
            workflow.sleep(trigger.at - workflow.now(), summary=trigger.summary)
        )

    def _timer_fired(self) -> bool:
        if self._timer is None or not self._timer.done():
            return False
        with contextlib.suppress(asyncio.CancelledError):
            self._timer.result()
        self._timer = None
        self._timer_at = None
        return True

    async def _publish(self) -> None:
        """Write what changed, in one local activity per round; keep the UI's view current."""
        while self._published != self._state.version or self._outbox:
            state = self._state
            version = state.version
            notices, self._outbox = self._outbox, []
            self._show()
            # A copy as of now (handlers may change the state while it is written), without
            # the command ids, which the database does not keep.
            snapshot = state.model_copy(update={"seen": {}}).model_copy(deep=True)
            facts = clock_facts_of(snapshot)
            batch = PublishBatch(
                state=snapshot, notices=notices, clocks_changed=facts != self._clock_facts
            )
            await workflow.execute_local_activity_method(
                TicketActivities.publish_ticket,
                batch,
                start_to_close_timeout=PUBLISH_TIMEOUT,
                retry_policy=PUBLISH_RETRY,
                summary=f"publish v{version}",
            )
            self._forget_published(batch.state)
            # The runs it stopped leave the state (written once, as they ended).
            self._clock_facts = clock_facts_of(snapshot, running_only=True)
            self._published = max(self._published, version)

    def _forget_published(self, published: TicketState) -> None:
        """Drop what the database now holds, so the state stays bounded."""
        state = self._state
        stopped = {(run.clock, run.cycle) for run in published.clocks if not run.running}
        state.thread = [e for e in state.thread if e.id > published.thread_count]
        state.timeline = [e for e in state.timeline if e.seq > published.last_seq]
        state.clocks = [r for r in state.clocks if (r.clock, r.cycle) not in stopped]

    def _show(self) -> None:
        """Search attributes for ops queries (only those that changed) and the UI's details."""
        values = sa.values(self._state)
        changed = sa.changed(self._attributes, values)
        if changed:
            workflow.upsert_search_attributes(changed)
            self._attributes = values
        workflow.set_current_details(current_details(self._state, workflow.now()))


def _refusal(err: IllegalTransition) -> ApplicationError:
    return ApplicationError(err.reason, type=err.refusal.value, non_retryable=True)
