"""Sending a command from the console's ticket page: with the version the page was rendered
at (If-Match) and an Idempotency-Key of the form's; what each action asks of the API; and a
refusal in words, shown beside the form it came from."""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData

from services.web.api import TICKETS, ApiError, Fault, IntakeApi
from services.web.console.agent import SignedIn
from services.web.forms import form_key, text
from services.web.session import PortalSession, idempotency_key
from services.web.words import problem
from shared.settings import Settings

CHANGED = "The ticket changed while you wrote: read the new entries above, then send again."
CHANGED_UNDER_ACTION = (
    "The ticket changed since this page was loaded: check what changed, then do it again."
)
CHANGED_ELSEWHERE = (
    "The ticket changed since this page was loaded (see its status and timeline): "
    "check it, then send again."
)


@dataclass
class Draft:
    """What the composer holds: kept when a send is refused."""

    kind: str = "reply"
    message: str = ""
    remind_at: str = ""


@dataclass
class Refusal:
    """What went wrong with a send, shown beside the form it came from (`where`)."""

    where: str  # composer, or an action's name
    sentence: str
    others: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # field id -> message
    values: dict[str, str] = field(default_factory=dict)  # what was typed, by field id


@dataclass(frozen=True)
class Action:
    path: str  # under the ticket's API path
    fields: tuple[str, ...]  # the form's fields, named the same in the API's body
    done: str
    method: str = "POST"


ACTIONS = {
    "assign-me": Action("assign", (), "Assigned to you."),
    "assign": Action("assign", ("agent", "team"), "Assigned."),
    "priority": Action("priority", ("priority",), "Priority changed."),
    "transfer": Action("transfer", ("department",), "Transferred."),
    "pending": Action("pending", ("remind_at",), "Set pending."),
    "resolve": Action("resolve", ("resolution",), "Resolved."),
    "close": Action("close", (), "Closed."),
    "reopen": Action("reopen", (), "Reopened."),
    "link": Action("links", ("system", "id", "url"), "Linked."),
    "unlink": Action("links", ("system", "id"), "Unlinked.", method="DELETE"),
}
SENT = {"reply": "Reply sent.", "note": "Note added."}


async def send_command(
    api: IntakeApi,
    agent: SignedIn,
    number: str,
    path: str,
    *,
    version: str,
    key: str,
    method: str = "POST",
    **body: Any,
) -> int:
    """One command with the version the page saw (If-Match): the ticket's new version."""
    if not version.isdigit() or len(version) > 18:
        raise ApiError(412, "the page named no version")  # an old or altered form: read again
    headers = {"Idempotency-Key": key, "If-Match": f'"{version}"'}
    answer = await api.call(
        method, f"{TICKETS}/{number}/{path}", credential=agent.token, headers=headers, **body
    )
    return int(answer.json()["version"])


def refusal_words(err: ApiError, settings: Settings) -> str:
    if err.status == 412:
        return CHANGED
    if err.status == 403:
        return (
            f"Not allowed: {_sentence(err.detail or 'your role may not do this')} Nothing was sent."
        )
    if err.status == 404:
        return f"Not done: {_sentence(err.detail or 'there is no such thing')}"
    return problem(err, settings)


def _sentence(words: str) -> str:
    words = words.strip()
    return words if words.endswith(".") else words + "."


def entries_seen(form: FormData) -> int | None:
    """How many thread entries the page showed when its form was sent: after a refusal, the
    entries after those are marked new."""
    value = text(form, "seen")
    return int(value) if value.isdigit() and len(value) < 7 else None


def remind_at(value: str) -> str | None:
    """A datetime-local field's value (read as UTC, as the page says) in ISO 8601."""
    if not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError as err:
        raise ApiError(422, "", [Fault("remind_at", "Give a date and a time")]) from err
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def command_key(request: Request, portal: PortalSession, form: FormData, suffix: str = "") -> str:
    """The command's Idempotency-Key: the form's own key (and `suffix` for a second command
    of the same form), bound to this browser's session."""
    return idempotency_key(request.app.state.settings, portal, form_key(form) + suffix)
