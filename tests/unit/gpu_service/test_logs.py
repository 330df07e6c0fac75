from __future__ import annotations

import json
import logging
import sys

from gpu_service import logs


def record(message: str, level: int = logging.INFO, **extra: object) -> logging.LogRecord:
    log_record = logging.LogRecord("gpu_service.test", level, __file__, 1, message, (), None)
    log_record.__dict__.update(extra)
    return log_record


def test_a_line_is_one_json_object_with_severity_and_message() -> None:
    line = logs.JsonFormatter().format(record("image generated", logging.WARNING, job_id="u1", style="pixel"))

    entry = json.loads(line)
    assert "\n" not in line
    assert entry["severity"] == "WARNING"
    assert entry["message"] == "image generated"
    assert entry["job_id"] == "u1"
    assert entry["style"] == "pixel"


def test_bound_context_reaches_every_line_until_the_block_ends() -> None:
    formatter = logs.JsonFormatter()

    with logs.context(job_id="u7", message_id="m1", reason=None):
        inside = json.loads(formatter.format(record("inside")))
    outside = json.loads(formatter.format(record("outside")))

    assert (inside["job_id"], inside["message_id"]) == ("u7", "m1")
    assert "reason" not in inside
    assert "job_id" not in outside


def test_an_exception_is_kept_with_its_traceback() -> None:
    try:
        raise RuntimeError("CUDA out of memory")
    except RuntimeError:
        log_record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), exc_info=sys.exc_info())

    entry = json.loads(logs.JsonFormatter().format(log_record))

    assert entry["severity"] == "ERROR"
    assert "RuntimeError: CUDA out of memory" in entry["exception"]


def test_trace_from_cloud_run_headers() -> None:
    trace_id = "105445aa7843bc8bf206b12000100000"

    legacy = logs.trace_field(f"{trace_id}/1;o=1", "", "imagebot")
    w3c = logs.trace_field("", f"00-{trace_id}-00f067aa0ba902b7-01", "imagebot")

    assert legacy == w3c == f"projects/imagebot/traces/{trace_id}"
    assert logs.trace_field("", "", "imagebot") is None
    assert logs.trace_field("garbage", "00-garbage", "imagebot") is None
