"""Fixtures shared by the in-process API tests."""

import pytest

from services.tickets.errors import Unavailable
from services.tickets.inputs import TicketCreate
from services.tickets.service import Tickets


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[TicketCreate]:
    """Bodies that passed validation and reached the ticket service, which then answers
    "temporal is unavailable" (503), so these tests need no Temporal server."""
    bodies: list[TicketCreate] = []

    async def create(_: Tickets, body: TicketCreate, **__: object) -> None:
        bodies.append(body)
        raise Unavailable("temporal")

    monkeypatch.setattr(Tickets, "create", create)
    return bodies
