"""The queues' bulk actions: one API command per selected ticket, each with its own
Idempotency-Key, and per ticket whether it was applied or why not."""

import asyncio
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from starlette.datastructures import FormData

from services.web.api import TICKETS, ApiError, IntakeApi
from services.web.console.agent import SignedIn
from services.web.console.queue_views import PRIORITY_WORDS
from services.web.forms import text

MAX_BULK = 100
BULK_AT_ONCE = 4  # commands in flight at a time for one bulk action
BULK_FIELDS = ("agent", "team", "priority", "department")


class Action(StrEnum):
    ASSIGN = "assign"
    PRIORITY = "priority"
    TRANSFER = "transfer"
    RESOLVE = "resolve"
    CLOSE = "close"


@dataclass(frozen=True)
class Outcome:
    number: str
    applied: bool
    reason: str = ""


def bulk_command(action: Action, form: dict[str, str]) -> tuple[dict[str, Any] | None, str]:
    """The body every ticket's command carries, and a fingerprint of it; or (None, why not)."""
    if action is Action.ASSIGN:
        who = {k: v for k, v in (("agent", form["agent"]), ("team", form["team"])) if v}
        if not who:
            return None, "Name an agent or a team to assign the tickets to."
        return who, f"{who.get('agent', '')}/{who.get('team', '')}"
    if action is Action.PRIORITY:
        if form["priority"] not in PRIORITY_WORDS:
            return None, "Choose a priority."
        return {"priority": form["priority"]}, form["priority"]
    if action is Action.TRANSFER:
        if not form["department"]:
            return None, "Name the department to transfer the tickets to."
        return {"department": form["department"]}, form["department"]
    return {}, ""


def refusal(err: ApiError) -> str:
    """Why the API did not apply one ticket's command, for the agent."""
    if err.status in (0, 502, 503, 504):
        return "not applied: the help desk is not answering just now (try again)"
    if err.status == 404:
        return "refused: there is no such ticket"
    if err.status == 401:
        return "refused: your sign-in has ended"
    detail = err.detail.strip() or f"the API answered {err.status}"
    return f"refused: {detail}"


async def send_each(
    api: IntakeApi,
    agent: SignedIn,
    action: Action,
    body: dict[str, Any],
    keys: dict[str, str],
) -> list[Outcome]:
    """One command per ticket, each with its own Idempotency-Key; a few at a time."""
    gate = asyncio.Semaphore(BULK_AT_ONCE)

    async def send(number: str) -> Outcome:
        async with gate:
            try:
                await api.call(
                    "POST",
                    f"{TICKETS}/{number}/{action.value}",
                    credential=agent.token,
                    headers={"Idempotency-Key": keys[number]},
                    json=body,
                )
            except ApiError as err:
                return Outcome(number, False, refusal(err))
        return Outcome(number, True)

    return list(await asyncio.gather(*(send(number) for number in keys)))


@dataclass(frozen=True)
class BulkRequest:
    action: Action
    body: dict[str, Any]
    fingerprint: str  # what the commands ask, in their Idempotency-Keys
    numbers: list[str]


def bulk_request(form: FormData) -> BulkRequest | str:
    """What a bulk form asks, or why it cannot be sent."""
    numbers = list(dict.fromkeys(n for n in form.getlist("ticket") if isinstance(n, str)))
    if not numbers:
        return "Select the tickets first: nothing was sent."
    if len(numbers) > MAX_BULK or not all(n.isdigit() and 6 <= len(n) <= 16 for n in numbers):
        return f"Select at most {MAX_BULK} tickets of this list: nothing was sent."
    try:
        action = Action(text(form, "action"))
    except ValueError:
        return "Choose what to do with the selected tickets: nothing was sent."
    body, fingerprint = bulk_command(action, {n: text(form, n).strip() for n in BULK_FIELDS})
    if body is None:
        return fingerprint
    return BulkRequest(action, body, fingerprint, numbers)
