"""One function served as functions-framework's CLI serves it, with a record of what it served.

    python -m local.function_host --source main.py --target T --signature-type cloudevent --port P

The same app (`functions_framework.create_app`) on the same server (gunicorn, one worker,
`THREADS` threads), wrapped in `RequestLedger`: every request is counted while in flight and
recorded once answered, with the ids it carried (a CloudEvent's `ce-id`; a Pub/Sub push's message
id and attributes, such as `job_id` and `update_id`). `GET /_local/requests` answers the record,
so a test can wait for a recorded event ("rate_limit has answered all three copies of job J's
message") instead of sleeping long enough for it to have happened. Nothing in the function
changes; the cloud runs the plain CLI.
"""

from __future__ import annotations

import argparse
import io
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

from functions_framework import create_app
from functions_framework._http import create_server  # what the CLI runs (functions_framework/_cli.py)

LEDGER_PATH = "/_local/requests"
MAX_RECORDS = 10_000  # a long `make up` session must not grow without bound
READ_AHEAD_MAX_BYTES = 14 * 2**20  # a 10 MB Pub/Sub message, base64 in a push envelope

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
WsgiApp = Callable[[Environ, StartResponse], Iterable[bytes]]


def request_ids(environ: Environ, body: bytes) -> dict[str, Any]:
    """The ids a request carries: `ce_id` (a CloudEvent in binary mode, as Eventarc posts), or
    `message_id` and `attributes` (a Pub/Sub push envelope)."""
    ids: dict[str, Any] = {}
    if event_id := environ.get("HTTP_CE_ID"):
        ids["ce_id"] = event_id
    try:
        envelope = json.loads(body) if body else None
    except ValueError:
        return ids
    message = envelope.get("message") if isinstance(envelope, dict) else None
    if isinstance(message, dict):
        ids["message_id"] = message.get("messageId") or message.get("message_id")
        attributes = message.get("attributes")
        ids["attributes"] = attributes if isinstance(attributes, dict) else {}
    return ids


class RequestLedger:
    """WSGI middleware: requests in flight, and a record of each one answered."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.in_flight = 0
        self.records: list[dict[str, Any]] = []
        self.seq = 0

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == LEDGER_PATH:
            return self._answer_ledger(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = b""
        # Read ahead only what a function could take whole; a larger or chunked body is left to
        # the function, which refuses it unread (413), as in the cloud, where no ledger reads it.
        if 0 < length <= READ_AHEAD_MAX_BYTES:
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
        started = time.time()
        status: list[str] = []

        def recording_start(code: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            status.append(code)
            return start_response(code, headers, *rest)

        with self.lock:
            self.in_flight += 1
        try:
            # Read to the end here: the request is over only once its body is produced.
            answer = self.app(environ, recording_start)
            try:
                return list(answer)
            finally:
                if close := getattr(answer, "close", None):
                    close()
        finally:
            record = {
                "path": environ.get("PATH_INFO", ""),
                "status": int(status[0].split()[0]) if status else 500,
                "started": started,
                "finished": time.time(),
                **request_ids(environ, body),
            }
            with self.lock:
                self.in_flight -= 1
                self.seq += 1
                self.records.append({"seq": self.seq, **record})
                del self.records[:-MAX_RECORDS]

    def _answer_ledger(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        """`?since=N`: only the records after seq N (`since=-1`: none, just the counts)."""
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        try:
            since = int(query.get("since", "0"))
        except ValueError:
            since = 0
        with self.lock:
            records = [] if since < 0 else [record for record in self.records if record["seq"] > since]
            body = json.dumps({"in_flight": self.in_flight, "seq": self.seq, "requests": records}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


class AsgiRequestLedger:
    """The same ledger for an ASGI app (an entry point on functions_framework.aio, which
    create_app serves with Starlette on uvicorn): it shares RequestLedger's records."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.ledger = RequestLedger(lambda environ, start_response: [])

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        environ: Environ = {
            "PATH_INFO": scope.get("path", ""),
            "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        }
        for name, value in scope.get("headers", []):
            environ["HTTP_" + name.decode("latin-1").upper().replace("-", "_")] = value.decode("latin-1")
        if environ["PATH_INFO"] == LEDGER_PATH:
            await self._answer_ledger(environ, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return dict(await receive())
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        status: list[int] = []

        async def recording_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        ledger = self.ledger
        started = time.time()
        with ledger.lock:
            ledger.in_flight += 1
        try:
            await self.app(scope, replay, recording_send)
        finally:
            record = {
                "path": environ["PATH_INFO"],
                "status": status[0] if status else 500,
                "started": started,
                "finished": time.time(),
                **request_ids(environ, body),
            }
            with ledger.lock:
                ledger.in_flight -= 1
                ledger.seq += 1
                ledger.records.append({"seq": ledger.seq, **record})
                del ledger.records[:-MAX_RECORDS]

    async def _answer_ledger(self, environ: Environ, send: Any) -> None:
        answer: dict[str, Any] = {}

        def start_response(code: str, headers: list[tuple[str, str]]) -> None:
            answer.update(status=int(code.split()[0]), headers=headers)

        body = b"".join(self.ledger._answer_ledger(environ, start_response))
        headers = [(k.lower().encode(), v.encode()) for k, v in answer["headers"]]
        await send({"type": "http.response.start", "status": answer["status"], "headers": headers})
        await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m local.function_host", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--target", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--signature-type", default="http", choices=["http", "event", "cloudevent", "typed"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    # functions-framework ships no type hints.
    app = create_app(args.target, args.source, args.signature_type)  # type: ignore[no-untyped-call]
    if hasattr(app, "wsgi_app"):
        app.wsgi_app = RequestLedger(app.wsgi_app)  # Flask's hook for WSGI middleware
        create_server(app, False).run(args.host, args.port)  # type: ignore[no-untyped-call]
        return
    # An ASGI app (functions_framework.aio): Starlette, which create_server runs on uvicorn.
    # The middleware is added Starlette's way, so the server still sees a Starlette app.
    app.add_middleware(AsgiRequestLedger)
    create_server(app, False).run(args.host, args.port)  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
