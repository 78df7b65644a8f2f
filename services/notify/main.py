"""Run the notify service: `python -m services.notify.main`."""

import uvicorn

from services.notify.app import create_app
from shared.logs import uvicorn_log_config
from shared.settings import Settings
from shared.tracing.process import tracing


def build_server(settings: Settings) -> uvicorn.Server:
    """A uvicorn server for the app; tests run it in a thread and stop it via should_exit."""
    config = uvicorn.Config(
        create_app(settings),
        host=settings.notify_host,
        port=settings.notify_port,
        log_config=uvicorn_log_config(settings),
    )
    return uvicorn.Server(config)


def serve(settings: Settings) -> None:
    with tracing(settings, "ticketflow-notify"):
        build_server(settings).run()


if __name__ == "__main__":
    serve(Settings())
