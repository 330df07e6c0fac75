"""The local function host's request ledger reads ahead only bodies a function could take."""

from __future__ import annotations

import io
import json

from local.function_host import READ_AHEAD_MAX_BYTES, RequestLedger
from tests.support.bodies import CountingStream


def serve(environ: dict) -> tuple[RequestLedger, bytes]:
    """The ledger around an app that answers with the first 100 bytes it can read."""

    def app(environ, start_response):
        start_response("200 OK", [])
        return [environ["wsgi.input"].read(100)]

    ledger = RequestLedger(app)
    return ledger, b"".join(ledger({"PATH_INFO": "/", **environ}, lambda *args: None))


def test_a_pubsub_push_is_read_ahead_and_recorded_with_its_ids():
    body = json.dumps({"message": {"messageId": "m-1", "attributes": {"job_id": "u1"}}}).encode()
    ledger, answer = serve({"CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body)})
    assert answer == body[:100]
    assert (ledger.records[0]["message_id"], ledger.records[0]["attributes"]) == ("m-1", {"job_id": "u1"})


def test_an_oversized_or_chunked_body_is_left_to_the_function_unread():
    oversized = CountingStream(b" " * (READ_AHEAD_MAX_BYTES + 1))
    ledger, answer = serve({"CONTENT_LENGTH": str(READ_AHEAD_MAX_BYTES + 1), "wsgi.input": oversized})
    assert (oversized.read_bytes, answer) == (100, b" " * 100)  # only what the app itself read
    chunked = CountingStream(b"x" * 500)
    ledger, answer = serve({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": chunked})
    assert answer == b"x" * 100 and ledger.records[0]["status"] == 200
