"""The ticket page's actions panel: assign, priority, transfer, pending, resolve, close,
reopen, and links to other systems; each one command with the page's version."""

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from services.web.api import ApiError, Fault
from services.web.console.agent import AgentDep, SignedIn
from services.web.console.presence import presence_of
from services.web.console.ticket import Number, ticket_page
from services.web.console.ticket_commands import (
    ACTIONS,
    CHANGED_UNDER_ACTION,
    Refusal,
    command_key,
    entries_seen,
    refusal_words,
    remind_at,
    send_command,
)
from services.web.deps import ApiDep, PortalDep
from services.web.forms import beside_fields, text
from services.web.render import see_other
from services.web.security import PostedForm
from shared.settings import Settings

router = APIRouter(prefix="/agent/tickets")


def _action_body(name: str, form: FormData, agent: SignedIn) -> dict[str, Any]:
    """The API's body (or path) for action `name` from its form; ApiError(422) beside a
    field left empty that the action needs."""
    values = {f: text(form, f).strip() for f in ACTIONS[name].fields}
    if name == "assign-me":
        return {"json": {"agent": agent.handle}}
    if name == "assign" and not (values["agent"] or values["team"]):
        raise ApiError(422, "", [Fault("agent", "Name an agent or a team (or both)")])
    if name == "pending":
        remind = remind_at(values["remind_at"])
        return {"json": {"remind_at": remind} if remind else {}}
    if name == "unlink":
        system, ref_id = (quote(values[f], safe="") for f in ("system", "id"))
        return {"suffix": f"/{system}/{ref_id}"}
    if name in ("close", "reopen"):
        return {}
    missing = [f for f in ("priority", "department", "system", "id") if values.get(f) == ""]
    if missing:
        raise ApiError(422, "", [Fault(f, "Fill this in") for f in missing])
    return {"json": {f: v for f, v in values.items() if v}}


@router.post("/{number}/actions/{name}", response_model=None)
async def act(
    request: Request,
    number: Number,
    name: str,
    form: PostedForm,
    api: ApiDep,
    agent: AgentDep,
    portal: PortalDep,
) -> Response:
    """One action of the page's actions panel: 303 back with what was done, or the page
    again with the refusal beside the action's form and what was typed in it."""
    await form.close()
    if name not in ACTIONS:
        raise HTTPException(404)
    settings: Settings = request.app.state.settings
    action = ACTIONS[name]
    values = {f"{name}-{f}": text(form, f) for f in action.fields}
    try:
        body = _action_body(name, form, agent)
        suffix = body.pop("suffix", "")
        new = await send_command(
            api,
            agent,
            number,
            action.path + suffix,
            version=text(form, "version"),
            key=command_key(request, portal, form),
            method=action.method,
            **body,
        )
    except ApiError as err:
        errors, others = beside_fields(err.faults, {f: f"{name}-{f}" for f in action.fields})
        words = CHANGED_UNDER_ACTION if err.status == 412 else refusal_words(err, settings)
        refusal = Refusal(name, words, others, errors, values)
        return await ticket_page(
            request,
            api=api,
            agent=agent,
            number=number,
            status_code=err.status or 503,
            refusal=refusal,
            seen=entries_seen(form),
            version=text(form, "version"),
        )
    presence_of(request).changed(number, new, agent.name)
    return see_other(request, f"/agent/tickets/{number}?done={name}#actions")
