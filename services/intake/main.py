"""Run the intake service with uvicorn."""

import uvicorn

from services.intake.app import create_app
from shared.logs import uvicorn_log_config
from shared.settings import Settings
from shared.tracing.process import tracing


def serve(settings: Settings) -> None:
    with tracing(settings, "ticketflow-intake"):
        uvicorn.run(
            create_app(settings),
            host=settings.intake_host,
            port=settings.intake_port,
            log_config=uvicorn_log_config(settings),
        )
