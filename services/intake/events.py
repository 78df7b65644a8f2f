"""`GET /api/v1/events`: the change feed, every ticket's events in one total order."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from services.intake.auth import Staff, require_scope
from services.intake.deps import SessionsDep
from services.intake.errors import invalid
from shared.db.events import BadCursor, Cursor, read_page
from shared.db.threads import in_thread
from shared.domain.events import EventType, TicketEvent

router = APIRouter(prefix="/api/v1", tags=["events"])
# Admins, and integrations' keys holding the scope.
EventsReader = Annotated[Staff, Depends(require_scope("events:read"))]

MAX_PAGE = 1000


class MessageText(BaseModel):
    id: str
    body: str


class FeedEvent(TicketEvent):
    """An event as the feed serves it: with its message's text, where it carries one."""

    message: MessageText | None = None


class FeedPage(BaseModel):
    events: list[FeedEvent]
    next_cursor: str = Field(description="Pass as `after` to read on; stored, it resumes.")
    has_more: bool


@router.get("/events")
async def events(
    _: EventsReader,
    sessions: SessionsDep,
    after: Annotated[str | None, Query(max_length=64, description="A `next_cursor`.")] = None,
    types: Annotated[
        str | None, Query(max_length=1000, description="Comma-separated event types.")
    ] = None,
    ticket: Annotated[str | None, Query(pattern=r"^\d{1,16}$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> FeedPage:
    # Answered in FastAPI's 422 shape, as the document declares for this operation.
    try:
        cursor = Cursor.decode(after) if after else Cursor()
    except BadCursor as err:
        raise invalid("query", "after", str(err), input=after) from err
    try:
        wanted = parse_types(types)
    except ValueError as err:
        raise invalid("query", "types", str(err), input=types) from err

    def read() -> FeedPage:
        with sessions() as session:
            page = read_page(session, cursor, limit, wanted, ticket)
        return FeedPage(
            events=[FeedEvent.model_validate(e) for e in page.events],
            next_cursor=page.cursor.encode(),
            has_more=len(page.events) == limit,
        )

    return await in_thread(read)


def parse_types(text: str | None) -> list[EventType]:
    """The event types a comma-separated `types` names (ValueError naming unknown ones)."""
    if not text:
        return []
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in EventType._value2member_map_]
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown[:5])}")
    return [EventType(name) for name in names]
