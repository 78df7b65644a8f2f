"""Run the portal with uvicorn."""

import logging
import re

import uvicorn

from services.web.app import create_app
from shared.logs import uvicorn_log_config
from shared.settings import Settings
from shared.tracing.process import tracing

# Secrets that arrive in a URL stay out of the log: a link's credential in its query string
# (`/t/100042?k=…`) and an agent's invite token in its path (`/agent/invite/…`).
_CREDENTIAL = re.compile(r"([?&]k=|/agent/invite/)[^&\s/?]+")


class RedactLinkCredentials(logging.Filter):
    """Uvicorn's access log line names the request's path with its query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _CREDENTIAL.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg
                for arg in record.args
            )
        return True


def serve(settings: Settings) -> None:
    # Open live streams (the console's) would hold up a graceful stop: they get 3 s.
    config = uvicorn.Config(
        create_app(settings),
        host=settings.web_host,
        port=settings.web_port,
        timeout_graceful_shutdown=3,
        log_config=uvicorn_log_config(settings),
    )
    # After Config, which sets up uvicorn's loggers: a filter added before could be replaced.
    logging.getLogger("uvicorn.access").addFilter(RedactLinkCredentials())
    with tracing(settings, "ticketflow-web"):
        uvicorn.Server(config).run()
