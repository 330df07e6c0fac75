"""Structured logs: one JSON object a line, which Cloud Logging parses into fields.

Use `log.info("job admitted", extra=fields(job_id=..., stage=...))`; the keys below become
top-level fields that Cloud Logging can filter and count.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

CONTEXT_KEYS = ("job_id", "update_id", "stage", "chat_id", "reason", "duration_ms", "error")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        for key in CONTEXT_KEYS:
            if key in record.__dict__:
                entry[key] = record.__dict__[key]
        trace = record.__dict__.get("trace")
        if trace:
            entry["logging.googleapis.com/trace"] = trace
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def fields(**values: Any) -> dict[str, Any]:
    """`extra=` for a log call, without the None values."""
    return {key: value for key, value in values.items() if value is not None}


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
