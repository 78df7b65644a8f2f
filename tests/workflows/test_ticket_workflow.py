"""The ticket workflow on the time-skipping server: SLA timers, auto-close, reopen, messages."""

from datetime import timedelta

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from services.workflows.ticket_workflow import TicketWorkflow
from shared.db.projection import stored_state
from shared.domain.enums import Action, EventKind, Priority, SlaClock, TicketStatus
from tests.builders import REQUESTER, cmd, new_input, ref
from tests.workflows.conftest import RecordingNotifier, send, start


async def test_unanswered_ticket_escalates_after_first_response_target(
    worker: tuple[Client, str], time_env: WorkflowEnvironment, notifier: RecordingNotifier
) -> None:
    client, queue = worker
    data = new_input()
    handle = await start(client, queue, data)
    await time_env.sleep(timedelta(hours=3))
    state = await handle.query(TicketWorkflow.state)
    assert state.escalation_level == 0 and not state.overdue
    await time_env.sleep(timedelta(hours=2))
    state = await handle.query(TicketWorkflow.state)
    assert state.overdue and state.escalation_level == 1
    assert state.breached == [SlaClock.FIRST_RESPONSE]
    assert ("escalation", "team_lead") in notifier.kinds(data.number)
    # The second breach (resolution, 24 h) also alerts the department manager.
    await time_env.sleep(timedelta(hours=20))
    state = await handle.query(TicketWorkflow.state)
    assert state.escalation_level == 2
    assert ("escalation", "department_manager") in notifier.kinds(data.number)


async def test_priority_change_rearms_first_response_timer(
    worker: tuple[Client, str], time_env: WorkflowEnvironment
) -> None:
    client, queue = worker
    handle = await start(client, queue, new_input())
    state = await send(handle, cmd(Action.CHANGE_PRIORITY, priority=Priority.EMERGENCY))
    assert state.first_response_due == state.created_at + timedelta(minutes=30)
    await time_env.sleep(timedelta(minutes=31))
    state = await handle.query(TicketWorkflow.state)
    assert state.overdue and state.escalation_level == 1


async def test_first_response_meets_sla_and_prevents_escalation(
    worker: tuple[Client, str], time_env: WorkflowEnvironment
) -> None:
    client, queue = worker
    handle = await start(client, queue, new_input())
    await send(handle, cmd(Action.RESPOND, message=ref("Looking")))
    await time_env.sleep(timedelta(hours=5))
    state = await handle.query(TicketWorkflow.state)
    assert state.escalation_level == 0 and not state.overdue


async def test_resolved_ticket_auto_closes(
    worker: tuple[Client, str], time_env: WorkflowEnvironment, notifier: RecordingNotifier
) -> None:
    client, queue = worker
    data = new_input()
    handle = await start(client, queue, data)
    await send(handle, cmd(Action.RESOLVE, resolution=ref("Fixed")))
    await time_env.sleep(timedelta(days=3, minutes=1))
    final = await handle.result()
    assert final.status is TicketStatus.CLOSED
    assert notifier.timeline(data.number)[-1].kind is EventKind.AUTO_CLOSED
    assert ("closed", "requester") in notifier.kinds(data.number)


async def test_requester_reply_cancels_auto_close_and_reopens(
    worker: tuple[Client, str], time_env: WorkflowEnvironment, notifier: RecordingNotifier
) -> None:
    client, queue = worker
    data = new_input()
    handle = await start(client, queue, data)
    await send(handle, cmd(Action.RESOLVE))
    await time_env.sleep(timedelta(days=1))
    state = await send(handle, cmd(Action.REQUESTER_REPLY, REQUESTER, message=ref("Still broken")))
    assert state.status is TicketStatus.OPEN and state.auto_close_at is None
    await time_env.sleep(timedelta(days=4))
    state = await handle.query(TicketWorkflow.state)
    assert state.status is TicketStatus.OPEN
    assert [e.kind for e in notifier.timeline(data.number)].count(EventKind.REOPENED) == 1


async def test_illegal_update_is_rejected_without_changing_state(
    worker: tuple[Client, str],
) -> None:
    client, queue = worker
    handle = await start(client, queue, new_input())
    before = await handle.query(TicketWorkflow.state)
    try:
        await send(handle, cmd(Action.REOPEN))
    except WorkflowUpdateFailedError as err:
        assert "cannot reopen a open ticket" in str(err.cause)
    else:
        raise AssertionError("reopen of an open ticket was accepted")
    after = await handle.query(TicketWorkflow.state)
    assert after.version == before.version and after.last_seq == before.last_seq


async def test_illegal_signal_is_recorded_as_rejected(
    worker: tuple[Client, str], notifier: RecordingNotifier
) -> None:
    client, queue = worker
    data = new_input()
    handle = await start(client, queue, data)
    await handle.signal(TicketWorkflow.reopen_signal, cmd(Action.REOPEN))
    await send(handle, cmd(Action.NOTE, message=ref("n")))
    rejected = [e for e in notifier.timeline(data.number) if e.kind is EventKind.REJECTED]
    assert len(rejected) == 1 and rejected[0].detail["action"] == "reopen"
    # The history says so too: the publish marker's result (decrypted) names the refusal and
    # its reason.
    history = await handle.fetch_history()
    results = [
        await client.data_converter.decode_wrapper(
            e.marker_recorded_event_attributes.details["result"]
        )
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    ]
    assert any("refused reopen by Jane: cannot reopen a open ticket" in str(r) for r in results)


async def test_repeated_signal_is_applied_once(worker: tuple[Client, str]) -> None:
    client, queue = worker
    handle = await start(client, queue, new_input())
    note = cmd(Action.NOTE, message=ref("checked the load balancer"))
    for _ in range(3):
        await handle.signal(TicketWorkflow.note_signal, note)
    state = await send(handle, cmd(Action.NOTE, message=ref("x")))
    # The ticket's first message, the note once, and "x".
    assert state.thread_count == 3


async def test_closed_ticket_reopens_in_a_new_run_with_its_state(
    worker: tuple[Client, str], notifier: RecordingNotifier
) -> None:
    client, queue = worker
    data = new_input()
    handle = await start(client, queue, data)
    await send(handle, cmd(Action.RESPOND, message=ref("Hi")))
    await send(handle, cmd(Action.CLOSE))
    await handle.result()
    assert notifier.sessions is not None
    with notifier.sessions() as session:  # a closed ticket reopens from its projection
        closed = stored_state(session, data.number)
    assert closed is not None
    carried = data.model_copy(update={"prior_state": closed})
    handle2 = await start(client, queue, carried)
    await send(handle2, cmd(Action.REOPEN))
    state = await handle2.query(TicketWorkflow.state)
    assert state.status is TicketStatus.OPEN and state.thread_count == 2
    assert state.resolution_due == state.resolution_clock_start + timedelta(hours=24)


async def test_pending_can_be_set_by_signal(worker: tuple[Client, str]) -> None:
    client, queue = worker
    handle = await start(client, queue, new_input())
    await handle.signal(TicketWorkflow.set_pending_signal, cmd(Action.SET_PENDING))
    state = await send(handle, cmd(Action.NOTE, message=ref("n")))
    assert state.status is TicketStatus.PENDING


async def test_clock_facts_are_written_when_they_change_and_follow_the_ticket(
    worker: tuple[Client, str], notifier: RecordingNotifier
) -> None:
    client, queue = worker
    data = new_input()
    handle = await start(client, queue, data)
    await send(handle, cmd(Action.NOTE, message=ref("looking")))
    await send(handle, cmd(Action.ASSIGN, agent="john"))
    await send(handle, cmd(Action.NOTE, message=ref("still")))
    await send(handle, cmd(Action.RESPOND, message=ref("fixed")))
    state = await handle.query(TicketWorkflow.state)
    assert state.version == 5
    # Opening writes the clocks; a note changes no clock fact, an assignment changes who the
    # runs are counted for, the first response stops a clock.
    assert notifier.clocks_written(data.number) == [True, False, True, False, True]
    assert notifier.clock_facts(data.number) == [
        ("first_response", "met", "online-banking", "john"),
        ("resolution", "running", "online-banking", "john"),
    ]
