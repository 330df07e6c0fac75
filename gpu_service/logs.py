"""The GPU service's logging: the shared JSON lines (log_format.py, generated from
common/log_format.py), plus what only this service needs: the diffusion libraries' own lines
and gunicorn's, routed through the same formatter.
"""

from __future__ import annotations

from typing import Any

from gpu_service.log_format import TRACE_FIELD, JsonFormatter, configure, context, fields, trace_field

__all__ = ["TRACE_FIELD", "JsonFormatter", "configure", "context", "fields", "trace_field"]


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
        "formatters": {"json": {"()": f"{JsonFormatter.__module__}.JsonFormatter"}},
        "handlers": {"console": json_stdout, "error_console": json_stdout},
        "root": {"level": level, "handlers": ["console"]},
        "loggers": {
            "gunicorn.error": {"level": level, "handlers": ["console"], "propagate": False},
            # Off: Cloud Run logs every request already, with latency and status.
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }
