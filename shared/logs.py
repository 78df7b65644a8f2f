"""Log lines: plain text (the default), or one JSON object per line (LOG_FORMAT=json) with the
time, level, logger and message, and the ticket, command and trace a line is about where
the work at hand knows them (`log_context`; the trace is the current span's when there is
one, README "Traces").

A JSON line names no person: addresses are masked in every message, uvicorn's access lines
keep the method, path (no query string) and status but not the client's address, and the
context holds identifiers only (a ticket number, a command id, a trace id).
"""

import json
import logging
import logging.config
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.trace import format_trace_id

from shared.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# What a line is about, set by the work at hand (a request, a command, an activity).
ticket_var: ContextVar[str | None] = ContextVar("log_ticket", default=None)
command_var: ContextVar[str | None] = ContextVar("log_command", default=None)
trace_var: ContextVar[str | None] = ContextVar("log_trace", default=None)
_ADDRESS = re.compile(r"[^\s<>\"'(),;:@]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
MASKED_ADDRESS = "[address]"
_CONTEXT = (("ticket", ticket_var), ("command_id", command_var), ("trace_id", trace_var))


@contextmanager
def log_context(
    *, ticket: str | None = None, command_id: str | None = None, trace_id: str | None = None
) -> Iterator[None]:
    """Lines logged inside name these (each given one; the others stay as they were)."""
    tokens = [
        (var, var.set(value))
        for var, value in ((ticket_var, ticket), (command_var, command_id), (trace_var, trace_id))
        if value is not None
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def current_trace_id() -> str | None:
    """The current span's trace id (README "Traces"), as a `traceparent` writes it."""
    context = trace.get_current_span().get_span_context()
    return format_trace_id(context.trace_id) if context.is_valid else None


def mask_addresses(text: str) -> str:
    return _ADDRESS.sub(MASKED_ADDRESS, text)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask_addresses(_message(record)),
        }
        for key, var in _CONTEXT:
            if (value := var.get()) is not None:
                line[key] = value
        if (trace_id := current_trace_id()) is not None:
            line["trace_id"] = trace_id
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            line.update(_access_fields(record.args))
        if record.exc_info:
            line["exception"] = mask_addresses(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def _message(record: logging.LogRecord) -> str:
    if record.name == "uvicorn.access" and isinstance(record.args, tuple):
        fields = _access_fields(record.args)
        if fields:
            return f"{fields['method']} {fields['path']} {fields['status']}"
    return record.getMessage()


def _access_fields(args: tuple[object, ...]) -> dict[str, Any]:
    """uvicorn's access record: (client, method, path with query, HTTP version, status)."""
    if len(args) != 5:
        return {}
    _, method, full_path, _, status = args
    return {"method": method, "path": str(full_path).partition("?")[0], "status": status}


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """The `log_config` a service gives uvicorn: uvicorn's own for text (unchanged), or JSON
    lines for every logger of the process, uvicorn's access log included."""
    if settings.log_format == "text":
        from uvicorn.config import LOGGING_CONFIG

        return LOGGING_CONFIG
    return _json_config()


def configure_logging(settings: Settings, level: int = logging.INFO) -> None:
    """Logging of a process without uvicorn (the worker, mail-in's listener): its lines at
    `level` and above on standard error, as LOG_FORMAT asks."""
    if settings.log_format == "json":
        logging.config.dictConfig(_json_config(level))
    else:
        logging.basicConfig(level=level, format=TEXT_FORMAT, force=True)


def _json_config(level: int = logging.INFO) -> dict[str, Any]:
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    # uvicorn's loggers write through the root's handler (propagate), so each line once.
    uvicorn = {"handlers": [], "level": "INFO", "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": handler},
        "root": {"handlers": ["stderr"], "level": logging.getLevelName(level)},
        "loggers": {name: uvicorn for name in ("uvicorn", "uvicorn.error", "uvicorn.access")},
    }
