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
        default=None,
        description="What the topic covers, for requesters; null when the topic has none "
        "(help topics keep no description yet)",
    )


class PublicHelpTopics(BaseModel):
    items: list[PublicHelpTopic]


@router.get("")
def list_public_help_topics(session: SessionDep) -> PublicHelpTopics:
    """Every help topic a ticket may be opened under, by name (no credentials needed: the
    portal's door is open to anyone). Every stored topic is open for new tickets: topics
    have no inactive state."""
    topics = reference.list_help_topics(session=session)
    items = [PublicHelpTopic(handle=topic.handle, name=topic.name) for topic in topics]
    return PublicHelpTopics(items=sorted(items, key=lambda topic: topic.name.casefold()))
