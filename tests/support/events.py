"""Event bodies as the cloud delivers them, for calling functions directly."""

from __future__ import annotations

import base64
import itertools
from typing import Any

_ids = itertools.count(1)


def pubsub_event_data(body: bytes, **attributes: str) -> dict[str, Any]:
    """`event.data` of a `google.cloud.pubsub.topic.v1.messagePublished` CloudEvent."""
    return {
        "message": {
            "data": base64.b64encode(body).decode(),
            "attributes": attributes,
            "messageId": str(next(_ids)),
            "publishTime": "2026-11-22T12:00:00Z",
        },
        "subscription": "projects/imagebot-local/subscriptions/test",
    }


def unique_ids(start: int) -> itertools.count:
    """Update ids, chat ids…: unique within a test session, so tests share emulators safely."""
    return itertools.count(start)
