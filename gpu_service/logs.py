"""Structured logs: one JSON object a line, which Cloud Logging parses into fields.

Fields that belong to the request being served (`job_id`, `message_id`, the trace) are bound
once with `context(...)` and then appear on every line logged while it is served, including
lines from the engine, which knows nothing about requests.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

TRACE_FIELD = "logging.googleapis.com/trace"

# Keys a caller may pass with `extra=`; anything else on a record is Python's own bookkeeping.
EXTRA_KEYS = (
    "job_id",
    "message_id",
    "delivery_attempt",
    "style",
    "outcome",
    "reason",
    "duration_ms",
    "width",
    "height",
    "steps",
    "device",
    "recipe",
    "batch_size",
    "bytes",
    "files",
    "unets",
    "text_encoders",
    "vaes",
    "term",
)

_context: ContextVar[Mapping[str, Any]] = ContextVar("gpu_service_log_context", default=MappingProxyType({}))


@contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Bind fields to every log line of the current thread (one request) until the block ends."""
    token = _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
        }
        entry.update(_context.get())
        for key in EXTRA_KEYS:
            if key in record.__dict__:
                entry[key] = record.__dict__[key]
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def trace_field(cloud_trace_context: str, traceparent: str, project: str) -> str | None:
    """The Cloud Logging trace of a request, so its lines group under the request in the console.

    Cloud Run passes both `X-Cloud-Trace-Context: TRACE_ID/SPAN_ID;o=1` and W3C `traceparent`.
    """
    trace_id = cloud_trace_context.split("/", 1)[0]
    if not re.fullmatch(r"[0-9a-f]{32}", trace_id):
        match = re.fullmatch(r"[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}", traceparent)
        if match is None:
            return None
        trace_id = match.group(1)
    return f"projects/{project}/traces/{trace_id}"


def configure(level: str = "INFO") -> None:
    """JSON lines on stdout for this process; Python warnings become log lines too."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)


def route_library_logs() -> None:
    """diffusers and transformers print to stderr through handlers of their own; send their
    lines through ours instead (JSON), and drop their progress bars. Call it before importing
    a pipeline: some of their warnings fire on import."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    for library in (diffusers_logging, transformers_logging):
        library.disable_default_handler()
        library.enable_propagation()
        library.disable_progress_bar()


def gunicorn_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` for gunicorn, so its own lines are JSON as well."""
    json_stdout = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stdout"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"console": json_stdout, "error_console": json_stdout},
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["console"], "propagate": False},
            # Off: Cloud Run logs every request already, with latency and status.
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }
