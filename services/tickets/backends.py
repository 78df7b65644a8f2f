"""What the ticket service works with: one process's Temporal client, database and settings."""

from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from shared.settings import Settings


@dataclass(frozen=True)
class Backends:
    client: Client
    sessions: sessionmaker[Session]
    settings: Settings
