"""The help topics a requester may open a ticket under: public, for the portal's pages."""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from services.intake.deps import SessionDep
from shared.reference import service as reference

router = APIRouter(prefix="/api/v1/help-topics", tags=["help topics"])


class PublicHelpTopic(BaseModel):
    """What a requester sees of a help topic: never its routing (department, team, agent),
    SLA plan or priority."""

    handle: str = Field(description="What `help_topic` of a new ticket names")
    name: str
    description: str | None = Field(
        description="What the topic covers, in a sentence or two; null when it has none"
    )
    instructions: str | None = Field(
        description="What to put in a ticket of this topic (may hold line breaks); null when "
        "it has none"
    )


class PublicHelpTopics(BaseModel):
    items: list[PublicHelpTopic]


@router.get("")
def list_public_help_topics(session: SessionDep) -> PublicHelpTopics:
    """Every help topic a ticket may be opened under (the active ones), by name (no
    credentials needed: the portal's door is open to anyone)."""
    topics = reference.list_help_topics(session=session)
    items = [
        PublicHelpTopic(
            handle=topic.handle,
            name=topic.name,
            description=topic.description,
            instructions=topic.instructions,
        )
        for topic in topics
        if topic.active
    ]
    return PublicHelpTopics(items=sorted(items, key=lambda topic: topic.name.casefold()))
