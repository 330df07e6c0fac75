"""Unwrapping the CloudEvents the functions receive: Pub/Sub messages and Storage objects."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


class BadEvent(ValueError):
    """An event that can never be processed: logged and acknowledged, not retried."""


@dataclass(frozen=True)
class PubSubMessage:
    """The message of a `google.cloud.pubsub.topic.v1.messagePublished` event."""

    data: bytes
    attributes: Mapping[str, str]
    # The same on every redelivery of one message, new with each publish: two messages for one
    # update or one job are duplicates that must not both act.
    message_id: str | None

    @classmethod
    def from_event(cls, data: Any) -> PubSubMessage:
        try:
            message = data["message"]
            body = base64.b64decode(message["data"], validate=True)
            attributes = dict(message.get("attributes") or {})
        except (KeyError, TypeError, AttributeError, binascii.Error) as error:
            raise BadEvent(f"not a Pub/Sub message: {error!r}") from error
        message_id = message.get("messageId") or message.get("message_id")
        return cls(body, attributes, str(message_id) if message_id else None)


@dataclass(frozen=True)
class StorageObject:
    bucket: str
    name: str
    generation: str
    content_type: str
    metadata: dict[str, str]
    created: datetime | None = None  # when the object was written: the picture was drawn by then


def storage_object(data: Any) -> StorageObject:
    """The object of a `google.cloud.storage.object.v1.finalized` event."""
    try:
        return StorageObject(
            bucket=data["bucket"],
            name=data["name"],
            generation=str(data.get("generation", "")),
            content_type=data.get("contentType") or "application/octet-stream",
            metadata=dict(data.get("metadata") or {}),
            created=_timestamp(data.get("timeCreated")),
        )
    except (KeyError, TypeError) as error:
        raise BadEvent(f"not a Cloud Storage object: {error!r}") from error


def _timestamp(value: Any) -> datetime | None:
    """An RFC 3339 time ("2026-11-22T12:00:00.123Z"), or None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
