"""`/api/v1/admin/webhooks`: subscriptions, their delivery log, replays. Admins only.

Handlers parse, call `shared.db.webhooks` / `shared.db.webhook_log`, commit; errors become
answers in `WebhookRoute` (404 unknown handle, 409 duplicate, 422 a URL the SSRF rule
refuses, an unknown department, help topic or event, a foreign cursor).
"""

from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status

from services.intake.admin.errors import ReferenceRoute
from services.intake.admin.webhook_schemas import (
    DeliveryPage,
    DeliveryRead,
    ReplayRequest,
    ReplayResult,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookRead,
    WebhookUpdate,
    WebhookUpdated,
)
from services.intake.auth import Staff, require_scope
from services.intake.deps import SessionDep, SettingsDep
from services.intake.errors import invalid
from shared.db import audit, webhook_log, webhooks
from shared.db.events import BadCursor, Cursor
from shared.domain.audit import SECRET, SECRET_ROTATED, AuditEntity
from shared.domain.webhook_signing import new_secret
from shared.domain.webhook_urls import UrlPolicy, UrlRefused
from shared.domain.webhooks import DeliveryState
from shared.settings import Settings

# Admins, and integrations' keys holding the scope; the caller goes in the audit log.
WebhooksAdmin = Annotated[Staff, Depends(require_scope("webhooks:admin"))]


def _audited(read: WebhookRead) -> dict[str, Any]:
    return read.model_dump(mode="json", exclude={"backlog"})


class WebhookRoute(ReferenceRoute):
    """ReferenceRoute's answers, and 422s (FastAPI's shape) for what only the database or
    the SSRF rule can tell is wrong with the body."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def translated(request: Request) -> Response:
            try:
                return await handler(request)
            except UrlRefused as err:
                raise invalid("body", "url", str(err), "url_refused") from err
            except BadCursor as err:
                raise invalid("body", "from_cursor", str(err), "bad_cursor") from err
            except webhook_log.UnknownEvents as err:
                raise invalid("body", "event_ids", str(err), "unknown_event") from err

        return translated


router = APIRouter(
    prefix="/api/v1/admin/webhooks",
    tags=["webhooks"],
    dependencies=[Depends(require_scope("webhooks:admin"))],
    route_class=WebhookRoute,
)


def _policy(settings: Settings) -> UrlPolicy:
    return UrlPolicy.of(settings.environment, settings.webhook_allowed_hosts)


def _now() -> datetime:
    return datetime.now(UTC)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_webhook(
    body: WebhookCreate, admin: WebhooksAdmin, session: SessionDep, settings: SettingsDep
) -> WebhookCreated:
    """Events published from now on (or, with `"from": "beginning"`, the feed's whole
    history) are POSTed to `url`, signed with the secret (answered here only)."""
    data = webhooks.NewSubscription(
        handle=body.handle,
        url=body.url,
        secret=body.secret,
        event_types=[t.value for t in body.event_types],
        departments=body.departments,
        help_topics=body.help_topics,
        include_internal=body.include_internal,
        active=body.active,
        from_beginning=body.from_ == "beginning",
    )
    row, secret = webhooks.create(session, data, _policy(settings), _now())
    read = WebhookRead.of(row, 0)
    audit.record_change(
        session,
        actor=admin.actor(),
        entity=AuditEntity.WEBHOOK,
        entity_id=row.handle,
        before=None,
        after=_audited(read),
        secrets={"secret": [None, SECRET]},
    )
    session.commit()
    return WebhookCreated(**read.model_dump(), secret=secret)


@router.get("")
def list_webhooks(session: SessionDep) -> WebhookList:
    rows = webhooks.list_all(session)
    backlog = webhooks.backlogs(session, [row.id for row in rows])
    return WebhookList(items=[WebhookRead.of(row, backlog.get(row.id, 0)) for row in rows])


@router.get("/{handle}")
def get_webhook(handle: str, session: SessionDep) -> WebhookRead:
    row = webhooks.get(session, handle)
    return WebhookRead.of(row, webhooks.backlogs(session, [row.id]).get(row.id, 0))


@router.patch("/{handle}")
def update_webhook(
    handle: str,
    body: WebhookUpdate,
    admin: WebhooksAdmin,
    session: SessionDep,
    settings: SettingsDep,
) -> WebhookUpdated:
    """Partial update; `rotate_secret: true` answers with a new secret; `active: true`
    re-enables a subscription (it resumes where it stopped: nothing published is lost)."""
    changes = body.model_dump(mode="json", exclude_unset=True, exclude={"rotate_secret"})
    secret = new_secret() if body.rotate_secret else None
    if secret is not None:
        changes["secret"] = secret
    before = _audited(WebhookRead.of(webhooks.get(session, handle), 0))
    row = webhooks.update(session, handle, changes, _policy(settings), _now())
    audit.record_change(
        session,
        actor=admin.actor(),
        entity=AuditEntity.WEBHOOK,
        entity_id=row.handle,
        before=before,
        after=_audited(WebhookRead.of(row, 0)),
        secrets={"secret": SECRET_ROTATED} if "secret" in changes else None,
    )
    session.commit()
    backlog = webhooks.backlogs(session, [row.id]).get(row.id, 0)
    return WebhookUpdated(**WebhookRead.of(row, backlog).model_dump(), secret=secret)


@router.delete("/{handle}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(handle: str, admin: WebhooksAdmin, session: SessionDep) -> None:
    """The subscription and its delivery log; deliveries under way finish unrecorded."""
    before = _audited(WebhookRead.of(webhooks.get(session, handle), 0))
    webhooks.remove(session, handle)
    audit.record_change(
        session,
        actor=admin.actor(),
        entity=AuditEntity.WEBHOOK,
        entity_id=handle,
        before=before,
        after=None,
    )
    session.commit()


@router.get("/{handle}/deliveries")
def list_deliveries(
    handle: str,
    session: SessionDep,
    status: DeliveryState | None = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveryPage:
    """Newest first: each event with its attempts (time, answer, latency, error)."""
    row = webhooks.get(session, handle)
    entries = webhook_log.deliveries(session, row.id, status=status, before=before, limit=limit)
    items = [DeliveryRead.of(entry.delivery, entry.attempts) for entry in entries]
    more = items[-1].id if len(items) == limit else None
    return DeliveryPage(items=items, next_before=more)


@router.post("/{handle}/replay", status_code=status.HTTP_202_ACCEPTED)
def replay(handle: str, body: ReplayRequest, session: SessionDep) -> ReplayResult:
    """Send events again: those named, or those after a change-feed cursor (up to 1,000 a
    call) that this subscription's filters take. Each is a new message (a new webhook-id)
    queued behind what the ticket already has queued."""
    row = webhooks.get(session, handle)
    if body.event_ids is not None:
        done = webhook_log.replay_events(session, row, body.event_ids, _now())
    else:
        after = Cursor.decode(body.from_cursor or "")
        done = webhook_log.replay_from(session, row, after, _now())
    session.commit()
    more = done.next_cursor.encode() if done.next_cursor is not None else None
    return ReplayResult(queued=done.queued, skipped=done.skipped, next_cursor=more)
