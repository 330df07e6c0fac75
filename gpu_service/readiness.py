"""Load and warm the engine in the background, and say when it is ready.

The server answers /healthz at once while the engine loads (seconds for the tiny pipeline,
longer for real weights), and /readyz turns 200 only when a first picture has been drawn, so
Cloud Run's startup probe sends no job to a cold instance.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from gpu_service.images import ImageGenerator

log = logging.getLogger(__name__)


class EngineWarmup:
    def __init__(self, load: Callable[[], ImageGenerator]) -> None:
        self._load = load
        self._engine: ImageGenerator | None = None
        self._failure: str | None = None
        self._done = threading.Event()
        # Daemon: a process asked to stop must not wait for a load that takes minutes.
        self._thread = threading.Thread(target=self._run, name="engine-warmup", daemon=True)

    def start(self) -> EngineWarmup:
        self._thread.start()
        return self

    @property
    def ready(self) -> bool:
        return self._engine is not None

    @property
    def failure(self) -> str | None:
        return self._failure

    def wait(self, timeout: float) -> ImageGenerator | None:
        """The warm engine, or None if it is not warm within `timeout` seconds (or failed)."""
        self._done.wait(timeout)
        return self._engine

    def _run(self) -> None:
        try:
            engine = self._load()
            engine.warm_up()
        except Exception as error:
            # Not re-raised: the thread would just die. /readyz reports it and stays 503, so
            # Cloud Run's startup probe fails and replaces the instance.
            log.critical("engine failed to load", exc_info=True)
            self._failure = f"{type(error).__name__}: {error}"
        else:
            self._engine = engine
        finally:
            self._done.set()
