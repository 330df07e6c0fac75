"""Serving the fake: werkzeug's threaded server, from the CLI or a thread of the test process."""

from __future__ import annotations

import re
import threading
from types import TracebackType
from typing import Any

from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from local.fake_telegram._app import FakeTelegramConfig, create_app

_TOKEN_IN_PATH = re.compile(r"/bot[^/\s]+")


class _RedactingRequestHandler(WSGIRequestHandler):
    """Request logs without the bot token: it is part of every Bot API path."""

    def log(self, type: str, message: str, *args: Any) -> None:
        super().log(type, message, *(_TOKEN_IN_PATH.sub("/bot<token>", str(arg)) for arg in args))


def serve(host: str, port: int, app: Flask) -> BaseWSGIServer:
    """A bound, not yet serving, threaded server; port 0 lets the OS pick a free one."""
    return make_server(host, port, app, threaded=True, request_handler=_RedactingRequestHandler)


class FakeTelegramServer:
    """`with FakeTelegramServer(config) as server:` serves on a free loopback port until the block ends."""

    def __init__(self, config: FakeTelegramConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.app = create_app(config)
        # Binding here, before the thread starts, leaves no race between choosing a port and using it.
        self._server = serve(host, port, self.app)
        self.host = host
        self.port = self._server.server_port
        # A short poll interval makes stop() quick (serve_forever checks for shutdown between polls).
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-telegram",
            daemon=True,
        )

    @property
    def base_url(self) -> str:
        """What the bot uses instead of https://api.telegram.org."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/bot{self.config.token}"

    def start(self) -> FakeTelegramServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()
        self.app.extensions["fake_telegram"]["webhook_sender"].close()

    def __enter__(self) -> FakeTelegramServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
