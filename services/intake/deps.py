"""Request dependencies: settings, database sessions, the Temporal client, the blob store.

Those that only read the app's state are `async def`: FastAPI runs a plain `def` dependency
in its thread pool, and a hop there and back for each was a measurable part of a command."""

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from services.tickets.service import Tickets
from shared.blobs import BlobStore
from shared.settings import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        yield session


async def get_sessions(request: Request) -> sessionmaker[Session]:
    """For handlers that also await Temporal: open short sessions, never hold one across."""
    sessions: sessionmaker[Session] = request.app.state.sessions
    return sessions


async def get_temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


async def get_tickets(request: Request) -> Tickets:
    tickets: Tickets = request.app.state.tickets
    return tickets


async def get_blobs(request: Request) -> BlobStore:
    blobs: BlobStore = request.app.state.blobs
    return blobs


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]
SessionsDep = Annotated[sessionmaker[Session], Depends(get_sessions)]
TemporalDep = Annotated[Client, Depends(get_temporal)]
BlobsDep = Annotated[BlobStore, Depends(get_blobs)]
TicketsDep = Annotated[Tickets, Depends(get_tickets)]
