"""Erasure on request (GDPR Art. 17), the use case: record the request (audited), start its
workflow, tell how far it got. The workflow (services.workflows.erasure_workflow) does the
erasing; it is started by name, so this module needs none of the worker's code."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from services.tickets.backends import Backends
from services.tickets.errors import NotFound, Unavailable
from shared.db import audit, erasures
from shared.db.erasures import ErasureProgress
from shared.db.threads import in_thread
from shared.domain.audit import AuditAction, AuditEntity
from shared.domain.erasure import ErasureInput, normalized, requester_ref
from shared.domain.ids import erasure_workflow_id
from shared.domain.models import Actor
from shared.temporal import names


async def request_erasure(backends: Backends, email: str, *, actor: Actor) -> ErasureProgress:
    """The erasure of this address's personal data: a new one, or the one under way for it
    (a repeated request joins it). Its workflow is started, or found started; Unavailable if
    Temporal cannot be reached (the request is kept: asking again starts it)."""
    erasure_id = await in_thread(_open, backends, email, actor)
    await _start(backends, erasure_id)
    return await erasure_progress(backends, erasure_id)


async def erasure_progress(backends: Backends, erasure_id: str) -> ErasureProgress:
    def read() -> ErasureProgress | None:
        with backends.sessions() as session:
            return erasures.progress(session, erasure_id)

    found = await in_thread(read)
    if found is None:
        raise NotFound(f"erasure {erasure_id}")
    return found


def _open(backends: Backends, email: str, actor: Actor) -> str:
    try:
        return _open_once(backends, email, actor)
    except IntegrityError:
        # Another request for the same person opened one at the same moment: join that one.
        return _open_once(backends, email, actor)


def _open_once(backends: Backends, email: str, actor: Actor) -> str:
    address = normalized(email)
    ref = requester_ref(backends.settings.secret_key, address)
    with backends.sessions.begin() as session:
        erasure_id, new = erasures.open_request(
            session, ref=ref, email=address, now=datetime.now(UTC)
        )
        if new:
            audit.record(
                session,
                actor=actor,
                action=AuditAction.ERASURE_REQUESTED,
                entity=AuditEntity.REQUESTER,
                entity_id=ref,
                summary=f"requested erasure {erasure_id} of requester {ref}",
            )
        return erasure_id


async def _start(backends: Backends, erasure_id: str) -> None:
    settings = backends.settings
    try:
        await backends.client.start_workflow(
            names.ERASURE_WORKFLOW,
            ErasureInput(erasure_id=erasure_id),
            id=erasure_workflow_id(erasure_id),
            task_queue=settings.temporal_task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # One run per erasure: a request repeated after it ended starts nothing again.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"Erasure {erasure_id}",
            rpc_timeout=timedelta(seconds=settings.temporal_rpc_timeout_seconds),
        )
    except WorkflowAlreadyStartedError:
        pass
    except RPCError as err:
        raise Unavailable("temporal") from err
