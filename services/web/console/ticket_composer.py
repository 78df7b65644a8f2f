"""The ticket page's composer: a public reply or an internal note, with files, and then, if
asked, resolving the ticket or setting it pending."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.web.api import ApiError
from services.web.console.agent import AgentDep
from services.web.console.presence import presence_of
from services.web.console.ticket import Number, ticket_page
from services.web.console.ticket_commands import (
    Draft,
    Refusal,
    command_key,
    entries_seen,
    refusal_words,
    remind_at,
    send_command,
)
from services.web.deps import ApiDep, PortalDep
from services.web.forms import beside_fields, files, text
from services.web.render import see_other
from services.web.security import PostedForm
from shared.settings import Settings

router = APIRouter(prefix="/agent/tickets")
FOLLOW_UPS = {"resolve": ("resolve", "resolved"), "pending": ("pending", "set pending")}


@router.post("/{number}/messages", response_model=None)
async def send_message(
    request: Request,
    number: Number,
    form: PostedForm,
    api: ApiDep,
    agent: AgentDep,
    portal: PortalDep,
) -> Response:
    """A public reply or an internal note, with files; then, if asked, resolve or set
    pending. 303 back to the page; a refusal shows the page again with the text kept."""
    settings: Settings = request.app.state.settings
    kind = "note" if text(form, "kind") == "note" else "reply"
    then = text(form, "then")
    draft = Draft(kind, text(form, "message"), text(form, "remind_at"))
    version, chosen = text(form, "version"), files(form)
    try:
        remind = remind_at(draft.remind_at) if then == "pending" else None
        body: dict[str, Any] = {"json": {"message": draft.message}}
        if chosen:
            parts = [("files", (f.name, f.file, f.content_type)) for f in chosen]
            body = {"data": {"message": draft.message}, "files": parts}
        path = "replies" if kind == "reply" else "notes"
        key = command_key(request, portal, form)
        new = await send_command(api, agent, number, path, version=version, key=key, **body)
    except ApiError as err:
        errors, others = beside_fields(
            err.faults,
            {
                "message": "composer-message",
                "files": "composer-files",
                "remind_at": "composer-remind",
            },
        )
        if chosen:
            others.append("Please choose your files again: a browser forgets them after an error.")
        return await ticket_page(
            request,
            api=api,
            agent=agent,
            number=number,
            status_code=err.status or 503,
            draft=draft,
            refusal=Refusal("composer", refusal_words(err, settings), others, errors),
            seen=entries_seen(form),
            version=version,
        )
    finally:
        await form.close()
    presence_of(request).changed(number, new, agent.name)
    if then in FOLLOW_UPS:
        path, done = FOLLOW_UPS[then]
        follow: dict[str, Any] = {"json": {"remind_at": remind} if remind else {}}
        try:
            new = await send_command(
                api,
                agent,
                number,
                path,
                version=str(new),
                key=command_key(request, portal, form, f"-{then}"),
                **follow,
            )
        except ApiError as err:
            what = "reply was sent" if kind == "reply" else "note was added"
            words = refusal_words(err, settings)
            return await ticket_page(
                request,
                api=api,
                agent=agent,
                number=number,
                status_code=err.status or 503,
                refusal=Refusal("composer", f"Your {what}, but the ticket was not {done}: {words}"),
                sent=kind,
            )
        presence_of(request).changed(number, new, agent.name)
    return see_other(request, f"/agent/tickets/{number}?sent={kind}#latest")
