"""The portal's client of intake's `/api/v1`: typed calls, and every answer that is not a
success raised as one `ApiError` for the pages to put into words."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import httpx
from pydantic import BaseModel, ConfigDict

from shared.domain.enums import ThreadKind, TicketStatus


class ApiModel(BaseModel):
    """What the portal reads of an answer: fields it does not show are ignored."""

    model_config = ConfigDict(extra="ignore")


class HelpTopic(ApiModel):
    handle: str
    name: str
    description: str | None = None
    # What to put in a ticket of this topic, shown beside its choice (may hold line breaks).
    instructions: str | None = None


class Attachment(ApiModel):
    id: str
    name: str
    content_type: str
    size: int


class Entry(ApiModel):
    kind: ThreadKind
    author: str
    body: str
    created_at: datetime
    attachments: list[Attachment] = []


class Requester(ApiModel):
    name: str
    email: str


class Ticket(ApiModel):
    number: str
    subject: str
    status: TicketStatus
    requester: Requester
    help_topic: str
    created_at: datetime
    first_response_due: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    thread: list[Entry] | None = None
    # The requester's rating of this closure: null until rated (and again after a reopen).
    rating: str | None = None
    # Set by the client: the answer has a `rating` field, and it is null on a closed ticket.
    rateable: bool = False


@dataclass(frozen=True)
class Fault:
    """One field the API refused: `field` is its path in the body (`requester.email`)."""

    field: str
    message: str


@dataclass
class ApiError(Exception):
    """The API answered `status` (0: it could not be reached)."""

    status: int
    detail: str = ""
    faults: list[Fault] = field(default_factory=list)
    retry_after: int | None = None

    def __str__(self) -> str:
        return f"{self.status}: {self.detail}"


@dataclass(frozen=True)
class Upload:
    """A file the person chose, to pass on to the API."""

    name: str
    content_type: str
    file: BinaryIO


@dataclass(frozen=True)
class NewTicket:
    name: str
    email: str
    help_topic: str
    subject: str
    message: str


TICKETS = "/api/v1/tickets"


class IntakeApi:
    """Calls of intake's API; `client` is made (and closed) by the app, or by a test."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def help_topics(self) -> list[HelpTopic]:
        answer = await self.call("GET", "/api/v1/help-topics")
        return [HelpTopic.model_validate(item) for item in answer.json()["items"]]

    async def open_ticket(
        self, ticket: NewTicket, files: list[Upload], *, idempotency_key: str
    ) -> str:
        """The new ticket's number (the same one again for the same key and request)."""
        body: dict[str, Any] = {
            "requester": {"name": ticket.name, "email": ticket.email},
            "subject": ticket.subject,
            "message": ticket.message,
            "help_topic": ticket.help_topic,
            "source": "web",
        }
        headers = {"Idempotency-Key": idempotency_key}
        if files:
            form = {**body, "requester": json.dumps(body["requester"])}
            answer = await self.call(
                "POST", TICKETS, headers=headers, data=form, files=_parts(files)
            )
        else:
            answer = await self.call("POST", TICKETS, headers=headers, json=body)
        number: str = answer.json()["number"]
        return number

    async def ticket(self, number: str, credential: str) -> Ticket:
        answer = await self.call("GET", f"{TICKETS}/{number}", credential=credential)
        data = answer.json()
        ticket = Ticket.model_validate(data)
        # An API without ratings has no such field: then the page asks for none.
        ticket.rateable = (
            ticket.status is TicketStatus.CLOSED and "rating" in data and data["rating"] is None
        )
        return ticket

    async def reply(
        self,
        number: str,
        credential: str,
        message: str,
        files: list[Upload],
        *,
        idempotency_key: str,
    ) -> None:
        path = f"{TICKETS}/{number}/replies"
        headers = {"Idempotency-Key": idempotency_key}
        if files:
            await self.call(
                "POST",
                path,
                credential=credential,
                headers=headers,
                data={"message": message},
                files=_parts(files),
            )
        else:
            await self.call(
                "POST", path, credential=credential, headers=headers, json={"message": message}
            )

    async def close(self, number: str, credential: str, *, idempotency_key: str) -> None:
        headers = {"Idempotency-Key": idempotency_key}
        await self.call("POST", f"{TICKETS}/{number}/close", credential=credential, headers=headers)

    async def rate(
        self,
        number: str,
        credential: str,
        rating: str,
        comment: str | None,
        *,
        idempotency_key: str,
    ) -> None:
        body: dict[str, str] = {"rating": rating}
        if comment:
            body["comment"] = comment
        await self.call(
            "POST",
            f"{TICKETS}/{number}/rating",
            credential=credential,
            headers={"Idempotency-Key": idempotency_key},
            json=body,
        )

    async def request_link(self, number: str, email: str) -> None:
        """Ask for a fresh link by mail: the API answers 202 whether or not they match."""
        await self.call("POST", "/api/v1/ticket-links", json={"number": number, "email": email})

    async def download(
        self, number: str, attachment_id: str, credential: str
    ) -> tuple[httpx.Response, AsyncIterator[bytes]]:
        """The file's answer (its headers) and its content, streamed; the caller closes it."""
        request = self._client.build_request(
            "GET",
            f"{TICKETS}/{number}/attachments/{attachment_id}",
            headers={"Authorization": f"Bearer {credential}"},
        )
        try:
            answer = await self._client.send(request, stream=True)
        except httpx.TransportError as err:
            raise ApiError(0, str(err)) from err
        if answer.status_code != 200:
            await answer.aread()
            await answer.aclose()
            raise error_of(answer)
        return answer, answer.aiter_raw()

    async def call(
        self, method: str, path: str, *, credential: str | None = None, **options: Any
    ) -> httpx.Response:
        """One request to `/api/v1` with `credential` as the bearer: the success answer, or
        an ApiError (0: the API could not be reached). The console's modules call it."""
        headers: dict[str, str] = options.pop("headers", {})
        if credential is not None:
            headers["Authorization"] = f"Bearer {credential}"
        try:
            answer = await self._client.request(method, path, headers=headers, **options)
        except httpx.TransportError as err:  # refused, reset, timed out: nothing is known
            raise ApiError(0, str(err)) from err
        if answer.is_success:
            return answer
        raise error_of(answer)


def _parts(files: list[Upload]) -> list[tuple[str, tuple[str, BinaryIO, str]]]:
    return [("files", (upload.name, upload.file, upload.content_type)) for upload in files]


def error_of(answer: httpx.Response) -> ApiError:
    """The answer as an ApiError: its detail (a sentence, or 422's list of faults) and when
    to try again."""
    try:
        data = answer.json()
    except ValueError:
        data = {}
    detail = data.get("detail", "") if isinstance(data, dict) else ""
    faults: list[Fault] = []
    if isinstance(detail, list):
        faults = [_fault(item) for item in detail if isinstance(item, dict)]
        detail = "; ".join(fault.message for fault in faults)
    retry = answer.headers.get("Retry-After", "")
    return ApiError(
        answer.status_code,
        str(detail),
        faults,
        int(retry) if retry.isdigit() else None,
    )


def _fault(item: dict[str, Any]) -> Fault:
    location = [str(part) for part in item.get("loc", [])]
    if location and location[0] in {"body", "query", "header", "path"}:
        location = location[1:]
    return Fault(".".join(location), str(item.get("msg", "is not valid")))
