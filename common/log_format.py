"""Structured logs: one JSON object a line, which Cloud Logging parses into fields.

One source (common/log_format.py), copied by `make sync` into both deployables: functions/ as
`imagebot/logs.py`, gpu_service/ as `log_format.py`. Pass fields with
`log.info("job admitted", extra=fields(job_id=..., stage=...))`, or bind the fields of the
request being served once with `context(...)`: they then appear on every line logged while it is
served, including lines from code that knows nothing about requests.
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
    "update_id",
    "message_id",
    "delivery_attempt",
    "stage",
    "chat_id",
    "style",
    "outcome",
    "reason",
    "error",
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
    # Telegram Stars (stage "payment"): the Stars and picture credits a ledger step moved.
    "stars",
    "credits",
)

_context: ContextVar[Mapping[str, Any]] = ContextVar("log_context", default=MappingProxyType({}))


def fields(**values: Any) -> dict[str, Any]:
    """`extra=` for a log call, without the None values."""
    return {key: value for key, value in values.items() if value is not None}


@contextmanager
def context(**values: Any) -> Iterator[None]:
    """Bind fields to every log line of the current thread (one request) until the block ends."""
    token = _context.set({**_context.get(), **fields(**values)})
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
