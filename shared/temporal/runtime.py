"""Where the Temporal SDK's core writes its own log lines: to standard error in its own format
(LOG_FORMAT=text, the SDK's default), or through Python's logging as `temporalio.core` lines,
so that with LOG_FORMAT=json they are JSON lines like every other (shared/logs.py)."""

import logging
from functools import cache

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from shared.settings import Settings


def core_logging(settings: Settings) -> LoggingConfig:
    return _FORWARDED if settings.log_format == "json" else LoggingConfig.default


def runtime_for(settings: Settings) -> Runtime | None:
    """None (the SDK's default runtime) for text logs; for JSON, one runtime per process that
    forwards the core's lines."""
    return _forwarding_runtime() if settings.log_format == "json" else None


@cache
def _forwarding_runtime() -> Runtime:
    return Runtime(telemetry=TelemetryConfig(logging=_FORWARDED))


_FORWARDED = LoggingConfig(
    filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
    forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
)
