"""Answers of the admin API beyond the shared reference models."""

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from shared.reference.schemas import AgentRead

Item = TypeVar("Item", bound=BaseModel)


class ItemList(BaseModel, Generic[Item]):
    items: list[Item]


class AgentCreated(AgentRead):
    token: str = Field(
        description="The bearer token: shown only here, since just its hash is kept."
    )


class AgentUpdated(AgentRead):
    token: str | None = Field(None, description="The new token if `rotate_token` was asked.")
