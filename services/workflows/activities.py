"""Activities of the ticket workflow: write the projection, send notifications."""

import httpx
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from shared.access import requester_token
from shared.db import directory
from shared.db.facts import record_facts
from shared.db.projection import upsert_ticket
from shared.enums import NotificationKind, RecipientRole
from shared.models import NotificationRequest, NotificationResult, Person, TicketState
from shared.settings import get_settings


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
            written = upsert_ticket(session, state)
            if written:  # an older version's facts are a subset of what is stored
                record_facts(session, state)
            return written

    @activity.defn(name="send_notification")
    def send_notification(self, request: NotificationRequest) -> NotificationResult:
        """Resolve who the notice is for and hand it to the notify service exactly once.

        The idempotency key ends with the recipient's address: two roles of one step that
        name the same person (assignee and team lead, say) reach them once.
        """
        recipients = self._recipients(request)
        if isinstance(recipients, str):
            return NotificationResult(skipped=recipients)
        notice = request.notice
        body = notice.body
        if notice.kind is NotificationKind.TICKET_RECEIVED:
            token = requester_token(self._secret_key, request.ticket)
            body += (
                f"\n\nTicket number: {request.ticket}\nAccess token: {token}\n"
                f"Follow it at {self._public_url}/api/v1/tickets/{request.ticket}"
            )
        sent = [
            person.email
            for person in recipients
            if self._post(request, person, notice.subject, body)
        ]
        if not sent:
            return NotificationResult(skipped="already sent")
        return NotificationResult(sent_to=", ".join(sent))

    def _post(self, request: NotificationRequest, person: Person, subject: str, body: str) -> bool:
        """Deliver to one person; False if the notify service had it already."""
        payload = {
            "idempotency_key": f"{request.idempotency_key}:{person.email.lower()}",
            "ticket": request.ticket,
            "kind": request.notice.kind.value,
            "recipient": person.model_dump(),
            "subject": subject,
            "body": body,
            "channel": self._channel,
        }
        try:
            response = self._http.post(
                f"{self._notify_url}/api/v1/notifications",
                json=payload,
                # This process's NOTIFY_TOKEN: notify refuses callers without it.
                headers={"Authorization": f"Bearer {get_settings().notify_token}"},
            )
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
        return response.status_code == 201

    def _recipients(self, request: NotificationRequest) -> list[Person] | str:
        """The people to tell, or a string saying why nobody is told."""
        if request.notice.recipient.role is RecipientRole.REQUESTER:
            return [request.requester]
        with self._sessions() as session:
            handles = directory.recipient_handles(session, request)
            handles = [h for h in handles if h != request.notice.exclude_agent]
            people = [directory.agent_person(session, handle) for handle in handles]
        found = [person for person in people if person is not None]
        if not found:
            return f"no {request.notice.recipient.role.value} to tell"
        return found
