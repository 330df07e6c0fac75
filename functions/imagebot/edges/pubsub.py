"""Publishing to Pub/Sub. Every publish waits for the server's confirmation: a function must
not acknowledge its input before its output is safely stored."""

from __future__ import annotations

import asyncio
import functools
from concurrent.futures import Future

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


class PendingPublishes(Publisher):
    """A Publisher for one update: `publish` starts the send and keeps its future;
    `confirmed()` waits on the loop until the server has stored every message."""

    def __init__(self, client: pubsub_v1.PublisherClient, project: str) -> None:
        super().__init__(client, project)
        self._futures: list[Future[str]] = []

    def publish(self, topic: str, data: bytes, **attributes: str) -> str:
        topic_path = self._client.topic_path(self._project, topic)
        self._futures.append(self._client.publish(topic_path, data, **attributes))
        return ""  # the message id comes with the confirmation

    async def confirmed(self, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> list[str]:
        # asyncio.timeout, not wait_for(gather(...)): no extra tasks for the one or two
        # messages an update publishes (this runs for nearly every update).
        message_ids = []
        async with asyncio.timeout(timeout):
            for future in self._futures:
                confirmation: asyncio.Future[str] = asyncio.wrap_future(future)
                message_ids.append(str(await confirmation))
        return message_ids


@functools.cache
def publisher_client() -> pubsub_v1.PublisherClient:
    """One client per instance, made on the first update (its batching thread serves all)."""
    return pubsub_v1.PublisherClient()
