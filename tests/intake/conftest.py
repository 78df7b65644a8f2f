"""Fixtures shared by the in-process API tests."""

import pytest

from services.intake import ticket_service
from services.intake.errors import Unavailable
from services.intake.schemas import TicketCreate


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[TicketCreate]:
    """Bodies that passed validation and reached the ticket service, which then answers
    "temporal is unavailable" (503), so these tests need no Temporal server."""
    bodies: list[TicketCreate] = []

    async def create_ticket(*, body: TicketCreate, **_: object) -> None:
        bodies.append(body)
        raise Unavailable("temporal")

    monkeypatch.setattr(ticket_service, "create_ticket", create_ticket)
    return bodies
