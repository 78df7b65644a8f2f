"""Run the intake service with uvicorn."""

import uvicorn

from services.intake.app import create_app
from shared.settings import Settings


def serve(settings: Settings) -> None:
    uvicorn.run(create_app(settings), host=settings.intake_host, port=settings.intake_port)
