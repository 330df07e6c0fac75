"""Micro-batching: jobs that arrive close together and share a plan run as one pipeline call.

A GPU draws a batch of four 512x512 pictures in much less than four times the time of one (the
UNet's matrices are loaded once per step for all of them). Request threads submit their job
and wait on a future; one worker thread takes the oldest waiting job, gathers the others with
the same key (style, recipe, size, img2img strength) until the batch is full or the oldest has
waited `window` seconds, and runs them together. A batch is full at `max_batch` pictures: a
grid job weighs its GRID_SIZE candidates (so at the default size it is a batch of its own).
The worker is the only caller of the engine, which keeps the engine single-threaded whatever
the server's concurrency.

When the GPU is busy, jobs queue up meanwhile, so the next batch forms at once: the window
costs latency only on an idle instance, and then at most `window`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from PIL import Image

from gpu_service.contract import GenerationJob
from gpu_service.images import GeneratedImage

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True)
class BatchPolicy:
    max_batch: int = 4
    window_seconds: float = 0.075

    def __post_init__(self) -> None:
        if self.max_batch < 1 or self.window_seconds < 0:
            raise ValueError(f"need max_batch >= 1 and window_seconds >= 0, got {self}")


@dataclass
class _Waiting(Generic[Item, Result]):
    item: Item
    key: Hashable
    arrived: float
    future: Future[Result] = field(default_factory=Future)
    weight: int = 1


def next_batch(waiting: Sequence[_Waiting[Item, Result]], max_batch: int) -> list[_Waiting[Item, Result]]:
    """Pure: the oldest waiting item and more of its key, oldest first, while their weights
    sum to at most max_batch (the oldest is taken whatever its weight)."""
    if not waiting:
        return []
    key = waiting[0].key
    batch: list[_Waiting[Item, Result]] = []
    total = 0
    for entry in waiting:
        if entry.key != key:
            continue
        if batch and total + entry.weight > max_batch:
            break
        batch.append(entry)
        total += entry.weight
    return batch


def batch_weight(batch: Sequence[_Waiting[Item, Result]]) -> int:
    return sum(entry.weight for entry in batch)


class MicroBatcher(Generic[Item, Result]):
    """Runs `run(items)` on batches of items of one key; `run` returns one result or exception
    per item, in order. Each submitter gets its own item's result, or its own exception."""

    def __init__(
        self,
        run: Callable[[list[Item]], Sequence[Result | Exception]],
        key: Callable[[Item], Hashable],
        policy: BatchPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        weight: Callable[[Item], int] = lambda _: 1,
    ) -> None:
        self._run = run
        self._key = key
        self._weight = weight
        self._policy = policy
        self._clock = clock
        self._waiting: list[_Waiting[Item, Result]] = []
        self._changed = threading.Condition()
        self._closed = False
        # Daemon: a process asked to stop must not wait for a batch; its jobs are redelivered.
        self._worker = threading.Thread(target=self._work, name="micro-batcher", daemon=True)
        self._worker.start()

    def submit(self, item: Item) -> Future[Result]:
        entry: _Waiting[Item, Result] = _Waiting(
            item, self._key(item), self._clock(), weight=self._weight(item)
        )
        with self._changed:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            self._waiting.append(entry)
            self._changed.notify()
        return entry.future

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._worker.join(timeout=10)

    def _work(self) -> None:
        while True:
            batch = self._gather()
            if batch is None:
                return
            try:
                results = self._run([entry.item for entry in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
            except Exception as error:  # the batch failed as a whole: every job hears of it
                log.exception("batch failed")
                results = [error] * len(batch)
            for entry, result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    entry.future.set_exception(result)
                else:
                    entry.future.set_result(result)

    def _gather(self) -> list[_Waiting[Item, Result]] | None:
        with self._changed:
            while not self._waiting:
                if self._closed:
                    return None
                self._changed.wait()
            deadline = self._waiting[0].arrived + self._policy.window_seconds
            while True:
                batch = next_batch(self._waiting, self._policy.max_batch)
                remaining = deadline - self._clock()
                if batch_weight(batch) >= self._policy.max_batch or remaining <= 0 or self._closed:
                    break
                self._changed.wait(remaining)
            taken = {id(entry) for entry in batch}
            self._waiting = [entry for entry in self._waiting if id(entry) not in taken]
            return batch


class Finishable(Protocol):
    """A job's drawn latents: `finish` decodes, checks and encodes them (raises on failure)."""

    def finish(self) -> GeneratedImage: ...


class BatchEngine(Protocol):
    """What the batcher needs of an engine (engine.Engine is one)."""

    def plan_for(self, job: GenerationJob) -> Hashable: ...

    def draw_batch(
        self, jobs: Sequence[GenerationJob], inits: Sequence[Image.Image | None] | None = None
    ) -> Sequence[Finishable | Exception]: ...

    def warm_up(self) -> None: ...


@dataclass(frozen=True)
class Drawing:
    """What the batcher queues: a job and its input image (img2img), if any."""

    job: GenerationJob
    init: Image.Image | None = None


class BatchingEngine:
    """An engine whose `generate` goes through a MicroBatcher: what the HTTP app calls.

    The batcher's one worker runs only the GPU's denoising loop of each batch; decoding, the
    safety checker, post-processing and encoding run in the job's own request thread (as does
    the upload after it), so the worker starts the next batch at once. That is why the
    server's concurrency must exceed BATCH_MAX_SIZE: the next batch forms from requests that
    arrive while one draws and others finish.
    """

    def __init__(self, engine: BatchEngine, policy: BatchPolicy) -> None:
        self.engine = engine
        self.policy = policy
        self._batcher: MicroBatcher[Drawing, Finishable] = MicroBatcher(
            lambda drawings: engine.draw_batch([d.job for d in drawings], [d.init for d in drawings]),
            lambda drawing: engine.plan_for(drawing.job),
            policy,
            weight=lambda drawing: drawing.job.candidates,
        )

    def generate(self, job: GenerationJob, init: Image.Image | None = None) -> GeneratedImage:
        return self._batcher.submit(Drawing(job, init)).result().finish()

    def warm_up(self) -> None:
        self.engine.warm_up()

    def close(self) -> None:
        self._batcher.close()
