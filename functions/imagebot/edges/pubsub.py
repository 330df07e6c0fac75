"""Publishing to Pub/Sub. Every publish waits for the server's confirmation: a function must
not acknowledge its input before its output is safely stored."""

from __future__ import annotations

from google.cloud import pubsub_v1

PUBLISH_TIMEOUT_SECONDS = 10.0


class Publisher:
    def __init__(self, client: pubsub_v1.PublisherClient, project: str) -> None:
        self._client = client
        self._project = project

    def publish(self, topic: str, data: bytes, **attributes: str) -> str:
        """The message id, once the server has stored the message."""
        future = self._client.publish(self._client.topic_path(self._project, topic), data, **attributes)
        return str(future.result(timeout=PUBLISH_TIMEOUT_SECONDS))
