"""Activities of the ticket workflow: write the projection, send notifications."""

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from shared.access import requester_token
from shared.db import directory
from shared.db.projection import upsert_ticket
from shared.enums import NotificationKind, RecipientRole
from shared.models import NotificationRequest, NotificationResult, Person, TicketState


class TicketActivities:
    """Holds the database and the notify service's address; the worker builds one."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        http: httpx.Client,
        notify_url: str,
        secret_key: str,
        public_url: str,
        channel: str = "email",
    ) -> None:
        self._sessions = sessions
        self._http = http
        self._notify_url = notify_url.rstrip("/")
        self._secret_key = secret_key
        self._public_url = public_url.rstrip("/")
        self._channel = channel

    @activity.defn(name="persist_ticket")
    def persist_ticket(self, state: TicketState) -> bool:
        """Upsert the ticket's read model; an older version never overwrites a newer one."""
        with self._sessions.begin() as session:
            return upsert_ticket(session, state)

    @activity.defn(name="send_notification")
    def send_notification(self, request: NotificationRequest) -> NotificationResult:
        """Resolve who the notice is for and hand it to the notify service exactly once."""
        recipient = self._recipient(request)
        if isinstance(recipient, str):
            return NotificationResult(skipped=recipient)
        notice = request.notice
        body = notice.body
        if notice.kind is NotificationKind.TICKET_RECEIVED:
            token = requester_token(self._secret_key, request.ticket)
            body += (
                f"\n\nTicket number: {request.ticket}\nAccess token: {token}\n"
                f"Follow it at {self._public_url}/api/v1/tickets/{request.ticket}"
            )
        payload = {
            "idempotency_key": request.idempotency_key,
            "ticket": request.ticket,
            "kind": notice.kind.value,
            "recipient": recipient.model_dump(),
            "subject": notice.subject,
            "body": body,
            "channel": self._channel,
        }
        try:
            response = self._http.post(f"{self._notify_url}/api/v1/notifications", json=payload)
        except httpx.HTTPError as err:
            raise RuntimeError(f"notify service unreachable: {err}") from err
        if response.status_code in (400, 413, 422):
            raise ApplicationError(
                f"notify refused the notification: {response.text[:300]}",
                type="InvalidNotification",
                non_retryable=True,
            )
        if response.status_code >= 300:
            raise RuntimeError(f"notify service answered {response.status_code}")
        return NotificationResult(sent_to=recipient.email)

    def _recipient(self, request: NotificationRequest) -> Person | str:
        """The person to tell, or a string saying why nobody is told."""
        if request.notice.recipient.role is RecipientRole.REQUESTER:
            return request.requester
        with self._sessions() as session:
            handle = directory.recipient_handle(session, request)
            if handle is None:
                return f"no {request.notice.recipient.role.value} to tell"
            if handle == request.notice.exclude_agent:
                return "own action"
            person = directory.agent_person(session, handle)
        return person if person is not None else f"unknown agent {handle}"
