"""Telling the functions that drawing has started, so the user's status message can say so.

Best effort: the picture matters, the status line does not, so a failed publish is logged and
the job goes on.
"""

from __future__ import annotations

import logging
from typing import Protocol

from google.cloud import pubsub_v1

from gpu_service.contract import progress_event

log = logging.getLogger(__name__)
PUBLISH_TIMEOUT_SECONDS = 5.0


class ProgressReporter(Protocol):
    def started(self, job_id: str) -> None: ...

    def rejected(self, job_id: str, reason: str) -> None: ...


class SilentProgress:
    """No progress topic configured."""

    def started(self, job_id: str) -> None:
        return None

    def rejected(self, job_id: str, reason: str) -> None:
        return None


class PubSubProgress:
    def __init__(self, publisher: pubsub_v1.PublisherClient, project: str, topic: str) -> None:
        self._publisher = publisher
        self._topic = publisher.topic_path(project, topic)

    def started(self, job_id: str) -> None:
        self._publish(job_id, progress_event(job_id))

    def rejected(self, job_id: str, reason: str) -> None:
        self._publish(job_id, progress_event(job_id, "rejected", reason))

    def _publish(self, job_id: str, body: bytes) -> None:
        try:
            self._publisher.publish(self._topic, body, job_id=job_id).result(timeout=PUBLISH_TIMEOUT_SECONDS)
        except Exception:
            log.warning("progress event not published", exc_info=True, extra={"reason": "progress"})
