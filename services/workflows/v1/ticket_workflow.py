"""`TicketWorkflow`: one durable workflow per ticket, the source of truth for its state."""

import asyncio
import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from services.workflows.v1 import lifecycle
    from services.workflows.v1 import search_attributes as sa
    from services.workflows.v1.activities import TicketActivities
    from services.workflows.v1.lifecycle import IllegalTransition
    from services.workflows.v1.models import (
        Actor,
        Notice,
        NotificationRequest,
        NotificationResult,
        TicketCommand,
        TicketInput,
        TicketState,
    )
    from shared.domain.enums import Action, EventKind, TicketStatus
    from shared.temporal import names

# Keep this many command ids across continue-as-new: signals are at-least-once, and a
# duplicate arrives within seconds, not after thousands of later commands.
SEEN_COMMANDS_KEPT = 1000

PERSIST_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30)
)
NOTIFY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=5),
    non_retryable_error_types=["InvalidNotification"],
)


@workflow.defn(name="TicketWorkflow")
class TicketWorkflow:
    @workflow.init
    def __init__(self, data: TicketInput) -> None:
        now = workflow.now()
        if data.prior_state is not None:
            self._state = data.prior_state
            self._outbox: list[Notice] = []
        else:
            self._state, self._outbox = lifecycle.open_ticket(data, now)
        self._seen = set(self._state.seen_commands)
        self._persisted_version = 0
        self._attributes: sa.Values | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._send_error: BaseException | None = None

    @workflow.run
    async def run(self, data: TicketInput) -> TicketState:
        while True:
            await self._flush()
            if self._send_error is not None:
                # A bug, not a delivery failure: fail the workflow task so it retries once fixed.
                raise RuntimeError("sending a notification failed") from self._send_error
            if self._idle():
                if self._state.status is TicketStatus.CLOSED:
                    return self._state
                if self._continue_as_new_due(data):
                    self._state.seen_commands = self._state.seen_commands[-SEEN_COMMANDS_KEPT:]
                    workflow.continue_as_new(data.model_copy(update={"prior_state": self._state}))
            # A closed ticket, or one due to continue as new, waits only until it is idle;
            # commands that arrive meanwhile are handled as usual.
            ending = self._state.status is TicketStatus.CLOSED or self._continue_as_new_due(data)
            await self._wait_for_change_or_deadline(wake_when_idle=ending)
            self._outbox += lifecycle.fire_due(self._state, workflow.now())

    # --- messages ---------------------------------------------------------------------------

    @workflow.signal(name=names.SIGNAL_ASSIGN)
    def assign(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.ASSIGN)

    @workflow.signal(name=names.SIGNAL_CHANGE_PRIORITY)
    def change_priority(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.CHANGE_PRIORITY)

    @workflow.signal(name=names.SIGNAL_TRANSFER)
    def transfer(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.TRANSFER)

    @workflow.signal(name=names.SIGNAL_RESPOND)
    def respond(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.RESPOND)

    @workflow.signal(name=names.SIGNAL_NOTE)
    def note(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.NOTE)

    @workflow.signal(name=names.SIGNAL_REQUESTER_REPLY)
    def requester_reply(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.REQUESTER_REPLY)

    @workflow.signal(name=names.SIGNAL_SET_PENDING)
    def set_pending(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.SET_PENDING)

    @workflow.signal(name=names.SIGNAL_RESOLVE)
    def resolve(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.RESOLVE)

    @workflow.signal(name=names.SIGNAL_CLOSE)
    def close(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.CLOSE)

    @workflow.signal(name=names.SIGNAL_REOPEN)
    def reopen(self, cmd: TicketCommand) -> None:
        self._signal(cmd, Action.REOPEN)

    @workflow.update(name=names.UPDATE_EXECUTE)
    def execute(self, cmd: TicketCommand) -> TicketState:
        """The validated path: the validator rejects an illegal command before history."""
        if cmd.command_id not in self._seen:
            try:
                self._apply(cmd)
            except IllegalTransition as err:  # state changed between validator and handler
                raise ApplicationError(
                    err.reason, type="IllegalTransition", non_retryable=True
                ) from err
        return self._state

    @execute.validator
    def _validate_execute(self, cmd: TicketCommand) -> None:
        if cmd.command_id in self._seen:
            return
        try:
            lifecycle.check(self._state, cmd)
        except IllegalTransition as err:
            raise ApplicationError(
                err.reason, type="IllegalTransition", non_retryable=True
            ) from err

    @workflow.update(name="open_ticket")
    def open_ticket(self) -> TicketState:
        """Answer the ticket's state to the creator (update-with-start)."""
        return self._state

    @workflow.query(name=names.QUERY_STATE)
    def state(self) -> TicketState:
        return self._state

    def _signal(self, cmd: TicketCommand, action: Action) -> None:
        # The signal's name decides the action, whatever the payload says.
        cmd = cmd.model_copy(update={"action": action})
        if cmd.command_id in self._seen:
            return
        try:
            self._apply(cmd)
        except IllegalTransition as err:
            workflow.logger.info("rejected %s: %s", action.value, err.reason)
            lifecycle.reject(self._state, cmd, err.reason, workflow.now())
            self._seen.add(cmd.command_id)

    def _apply(self, cmd: TicketCommand) -> None:
        self._outbox += lifecycle.apply(self._state, cmd, workflow.now())
        self._seen.add(cmd.command_id)

    # --- the loop's parts -------------------------------------------------------------------

    def _continue_as_new_due(self, data: TicketInput) -> bool:
        info = workflow.info()
        limit = data.continue_as_new_after_events
        return info.is_continue_as_new_suggested() or (
            limit is not None and info.get_current_history_length() >= limit
        )

    def _idle(self) -> bool:
        """Nothing left to do before the run may end: no handler, send, notice or write."""
        return (
            workflow.all_handlers_finished()
            and not self._sending
            and not self._outbox
            and self._persisted_version == self._state.version
        )

    async def _wait_for_change_or_deadline(self, *, wake_when_idle: bool) -> None:
        version = self._state.version

        def woken() -> bool:
            return self._state.version != version or (wake_when_idle and self._idle())

        deadline = lifecycle.next_trigger(self._state)
        if deadline is None:
            await workflow.wait_condition(woken)
            return
        timeout = deadline.at - workflow.now()
        if timeout <= timedelta(0):
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(woken, timeout=timeout, timeout_summary=deadline.summary)

    async def _flush(self) -> None:
        """Persist the projection, start sending queued notices, keep the UI's view current."""
        while self._persisted_version != self._state.version or self._outbox:
            if self._outbox:
                batch, self._outbox = self._outbox, []
                for notice in batch:
                    task = asyncio.create_task(self._send(notice))
                    self._sending.add(task)
                    task.add_done_callback(self._sent)
            if self._persisted_version != self._state.version:
                version = self._state.version
                self._publish()
                await workflow.execute_activity_method(
                    TicketActivities.persist_ticket,
                    self._state,
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=PERSIST_RETRY,
                    summary=f"persist ticket v{version}",
                )
                self._persisted_version = max(self._persisted_version, version)

    def _sent(self, task: "asyncio.Task[None]") -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._send_error = task.exception()

    async def _send(self, notice: Notice) -> None:
        state = self._state
        request = NotificationRequest(
            # The activity appends each recipient's address to this key.
            idempotency_key=f"{state.number}:{notice.event_seq}:{notice.kind}",
            ticket=state.number,
            notice=notice,
            requester=state.requester,
            department=state.department,
            team=state.team,
            assignee=state.assignee,
        )
        label = f"notify {notice.recipient.role.value.replace('_', ' ')}: {notice.kind.value}"
        try:
            result: NotificationResult = await workflow.execute_activity_method(
                TicketActivities.send_notification,
                request,
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(days=1),
                retry_policy=NOTIFY_RETRY,
                summary=label,
            )
        except ActivityError as err:
            lifecycle.record_event(
                state,
                EventKind.NOTIFICATION_FAILED,
                Actor.system(),
                workflow.now(),
                notification=notice.kind.value,
                role=notice.recipient.role.value,
                error=str(err.cause or err),
            )
            return
        if result.sent_to:
            lifecycle.record_event(
                state,
                EventKind.NOTIFICATION_SENT,
                Actor.system(),
                workflow.now(),
                notification=notice.kind.value,
                to=result.sent_to,
            )

    def _publish(self) -> None:
        """Search attributes for ops queries (only when they change) and the UI's details."""
        values = sa.values(self._state)
        if values != self._attributes:
            workflow.upsert_search_attributes(sa.updates(values))
            self._attributes = values
        s = self._state
        workflow.set_current_details(
            f"**#{s.number}** {s.subject}\n\n"
            f"- status: **{s.status.value}**, priority: **{s.priority.value}**\n"
            f"- department: {s.department}, team: {s.team or '-'}, assignee: {s.assignee or '-'}\n"
            f"- first response due: {s.first_response_due}, resolution due: {s.resolution_due}\n"
            f"- overdue: {s.overdue}, escalation level: {s.escalation_level}"
        )
