"""Fixtures shared by the in-process API tests."""

from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from services.intake.app import create_app
from services.tickets.errors import Unavailable
from services.tickets.inputs import TicketCreate
from services.tickets.service import Tickets
from shared.settings import Settings


@pytest.fixture
def client_for(database_url: str) -> Iterator[Callable[..., TestClient]]:
    """Starts the intake on the test's database with some settings changed (keyword
    arguments) and `routers` mounted; each client stops at the end of the test.

    A server error comes back as the 500 a real client gets (the app logs it), rather than
    being raised into the test: several tests check exactly that answer."""
    with ExitStack() as started:

        def start(*, routers: Sequence[APIRouter] = (), **changes: Any) -> TestClient:
            settings = Settings(**{"database_url": database_url, "environment": "test", **changes})
            app = create_app(settings)
            for router in routers:
                app.include_router(router)
            return started.enter_context(TestClient(app, raise_server_exceptions=False))

        yield start


@pytest.fixture
def client(client_for: Callable[..., TestClient]) -> TestClient:
    """The intake with the test settings. A module that needs other settings overrides this
    fixture with its own `client_for(...)`."""
    return client_for()


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
