"""The Pub/Sub push envelope. Pure: bytes in, a message out, or a short reason why not.

A push request's body is
    {"message": {"data": "<base64>", "attributes": {...}, "messageId": "..."},
     "subscription": "projects/.../subscriptions/...", "deliveryAttempt": 3}
where `deliveryAttempt` is present only on subscriptions with a dead-letter policy.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field


class BadEnvelope(ValueError):
    """A request body that is not a Pub/Sub push envelope."""


@dataclass(frozen=True)
class PushedMessage:
    data: bytes
    message_id: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    subscription: str | None = None
    delivery_attempt: int | None = None


def parse_push(body: bytes) -> PushedMessage:
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadEnvelope("body is not JSON") from None
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if not isinstance(message, dict):
        raise BadEnvelope("no message in the envelope")
    data = message.get("data")
    if not isinstance(data, str) or not data:
        raise BadEnvelope("the message has no data")
    try:
        decoded = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadEnvelope("the message data is not base64") from None
    attributes = message.get("attributes")
    attempt = envelope.get("deliveryAttempt")
    message_id = message.get("messageId") or message.get("message_id")
    return PushedMessage(
        data=decoded,
        message_id=str(message_id) if message_id is not None else None,
        attributes={str(k): str(v) for k, v in attributes.items()} if isinstance(attributes, dict) else {},
        subscription=envelope.get("subscription") if isinstance(envelope.get("subscription"), str) else None,
        delivery_attempt=attempt if isinstance(attempt, int) else None,
    )
