"""Run the codec server: `ticketflow codec`."""

import uvicorn

from services.codec.app import create_app
from shared.logs import uvicorn_log_config
from shared.settings import Settings


def serve(settings: Settings) -> None:
    config = uvicorn.Config(
        create_app(settings),
        host=settings.codec_host,
        port=settings.codec_port,
        log_config=uvicorn_log_config(settings),
    )
    uvicorn.Server(config).run()
