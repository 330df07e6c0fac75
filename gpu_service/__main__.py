"""`python -m gpu_service`: serve the app with gunicorn on $PORT (the container's command).

One worker process, because each process would load its own copy of every pipeline into GPU
memory and the GPU draws one batch at a time anyway; several threads, so that health checks
and pushes that find their output already stored are answered while a picture is drawn.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from gpu_service import logs
from gpu_service.config import ConfigError, Settings

THREADS = 8

log = logging.getLogger("gpu_service")


class GunicornServer(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        # Called in the worker, after the fork: the engine's loading thread must start in the
        # process that serves (a thread started before a fork does not exist in the child).
        from gpu_service.app import create_app

        return create_app(self._settings)


def main() -> None:
    logs.configure()
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        log.critical("cannot start: %s", error)
        sys.exit(2)
    options = {
        "bind": f"{settings.host}:{settings.port}",
        "workers": 1,
        "worker_class": "gthread",
        "threads": THREADS,
        # No worker timeout: a long generation is not a hung worker, and Cloud Run bounds
        # requests itself (its recommended setting for gunicorn).
        "timeout": 0,
        # Inside the 10 s Cloud Run allows between SIGTERM and SIGKILL; a job cut off is redelivered.
        "graceful_timeout": 8,
        "accesslog": None,  # Cloud Run logs every request already
        # gunicorn's runtime-control socket: not needed in a container, and two local
        # instances would fight over its one default path in $HOME.
        "control_socket_disable": True,
        "logconfig_dict": logs.gunicorn_config(),
    }
    log.info("starting on %s:%d with %d threads", settings.host, settings.port, THREADS)
    GunicornServer(settings, options).run()


if __name__ == "__main__":
    main()
