from __future__ import annotations

import base64
import json

import pytest

from gpu_service.pubsub import BadEnvelope, parse_push


def envelope(data: str | None = None, **message: object) -> bytes:
    body: dict[str, object] = {
        "message": {"messageId": "17", "attributes": {"kind": "job"}, **message},
        "subscription": "projects/p/subscriptions/generation-jobs-push",
        "deliveryAttempt": 3,
    }
    if data is not None:
        body["message"]["data"] = data
    return json.dumps(body).encode()


def test_a_push_envelope_gives_the_decoded_message() -> None:
    message = parse_push(envelope(base64.b64encode(b'{"job_id": "u1"}').decode()))

    assert message.data == b'{"job_id": "u1"}'
    assert message.message_id == "17"
    assert message.attributes == {"kind": "job"}
    assert message.subscription == "projects/p/subscriptions/generation-jobs-push"
    assert message.delivery_attempt == 3


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "no message"),
        (b'{"subscription": "s"}', "no message"),
        (b'{"message": "hello"}', "no message"),
        (envelope(), "no data"),
        (envelope(""), "no data"),
        (envelope("%%% not base64 %%%"), "not base64"),
        (envelope("abc"), "not base64"),  # wrong padding
    ],
)
def test_anything_else_is_a_bad_envelope_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(BadEnvelope, match=reason):
        parse_push(body)
