"""Reading what functions published, through a pull subscription on the emulator."""

from __future__ import annotations

import contextlib
import time
import uuid

from google.api_core.exceptions import AlreadyExists, DeadlineExceeded
from google.cloud import pubsub_v1


def ensure_topic(project: str, topic: str) -> None:
    publisher = pubsub_v1.PublisherClient()
    with contextlib.suppress(AlreadyExists):
        publisher.create_topic(name=publisher.topic_path(project, topic))


class TopicTap:
    """A fresh pull subscription: sees every message published to `topic` after it was made."""

    def __init__(self, project: str, topic: str) -> None:
        ensure_topic(project, topic)
        self._subscriber = pubsub_v1.SubscriberClient()
        self._path = self._subscriber.subscription_path(project, f"tap-{topic}-{uuid.uuid4().hex[:8]}")
        self._subscriber.create_subscription(
            request={"name": self._path, "topic": pubsub_v1.PublisherClient.topic_path(project, topic)}
        )

    def drain(self, expect: int, timeout: float = 5.0) -> list[pubsub_v1.types.PubsubMessage]:
        """Messages until `expect` have come or `timeout` passed (then whatever came)."""
        messages: list[pubsub_v1.types.PubsubMessage] = []
        deadline = time.monotonic() + timeout
        while len(messages) < expect and time.monotonic() < deadline:
            remaining = max(0.1, deadline - time.monotonic())
            try:
                # The emulator holds an empty pull open (long polling), so bound it by the deadline.
                response = self._subscriber.pull(
                    request={"subscription": self._path, "max_messages": 50}, timeout=remaining
                )
            except DeadlineExceeded:
                continue
            if response.received_messages:
                self._subscriber.acknowledge(
                    request={
                        "subscription": self._path,
                        "ack_ids": [m.ack_id for m in response.received_messages],
                    }
                )
                messages.extend(m.message for m in response.received_messages)
            else:
                time.sleep(0.1)
        return messages

    def quiet(self, wait: float = 1.0) -> list[pubsub_v1.types.PubsubMessage]:
        """Everything that arrives within `wait` seconds: for asserting that nothing was published."""
        return self.drain(expect=10**6, timeout=wait)
