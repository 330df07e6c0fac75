"""A fake Bot API per test, and a tiny HTTP server that records what it receives."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local.fake_telegram import FakeTelegramConfig, FakeTelegramServer
from local.fake_telegram_client import FakeTelegram

TOKEN = "123456:TEST-TOKEN"
SECRET = "test-webhook-secret"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


# What a receiver answers to one request: (status, body, content type).
Answer = tuple[int, str, str]


class Receiver:
    """Records every request; answers from `answer(request)` (200 "OK" by default)."""

    def __init__(self, answer: Callable[[Received], Answer] | None = None) -> None:
        self.answer = answer or (lambda received: (200, "OK", "text/plain"))
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @Request.application  # type: ignore[arg-type]
    def _app(self, request: Request) -> Response:
        received = Received(
            request.method,
            request.path,
            {k.lower(): v for k, v in request.headers.items()},
            request.get_data(),
        )
        with self._lock:
            self._received.append(received)
        status, body, content_type = self.answer(received)
        return Response(body, status=status, content_type=content_type)

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return self.received
            time.sleep(0.02)
        raise TimeoutError(f"expected {count} requests within {timeout}s, got {len(self.received)}")

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    started: list[Receiver] = []

    def make(answer: Callable[[Received], Answer] | None = None) -> Receiver:
        receiver = Receiver(answer).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


@pytest.fixture
def fake_telegram_server() -> Iterator[FakeTelegramServer]:
    with FakeTelegramServer(FakeTelegramConfig(token=TOKEN)) as server:
        yield server


@pytest.fixture
def telegram(fake_telegram_server: FakeTelegramServer) -> Iterator[FakeTelegram]:
    with FakeTelegram(fake_telegram_server.base_url, timeout=15.0) as client:
        yield client


@pytest.fixture(scope="session")
def http() -> Iterator[httpx.Client]:
    """One client for the session: a new one per request would build an SSL context every time."""
    with httpx.Client(timeout=15.0) as client:
        yield client
