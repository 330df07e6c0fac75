"""The micro-batcher with a recording stand-in for the engine: threads, keys, windows, failures."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gpu_service.batching import BatchingEngine, BatchPolicy, MicroBatcher
from gpu_service.engine import Pending
from gpu_service.images import GeneratedImage
from gpu_service.loading import load_engine

from .conftest import make_job


class Recorder:
    """Stands in for Engine.generate_batch: records each batch, answers item * 10, and fails
    the items named in `poison` alone."""

    def __init__(self, delay: float = 0.0, poison: frozenset[int] = frozenset()) -> None:
        self.batches: list[list[int]] = []
        self.delay = delay
        self.poison = poison
        self.threads: set[str] = set()

    def __call__(self, items: list[int]) -> list[int | Exception]:
        self.batches.append(list(items))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        return [ValueError(f"bad item {i}") if i in self.poison else i * 10 for i in items]


def submit_all(batcher: MicroBatcher[int, int], items: list[int]) -> list[int | str]:
    def one(item: int) -> int | str:
        try:
            return batcher.submit(item).result(timeout=10)
        except ValueError as error:
            return str(error)

    with ThreadPoolExecutor(len(items)) as pool:
        return list(pool.map(one, items))


def test_concurrent_items_of_one_key_share_fewer_calls_and_each_gets_its_own_result() -> None:
    recorder = Recorder(delay=0.05)
    batcher = MicroBatcher(
        recorder, key=lambda item: "same", policy=BatchPolicy(max_batch=4, window_seconds=0.2)
    )

    results = submit_all(batcher, list(range(8)))
    batcher.close()

    assert results == [i * 10 for i in range(8)]
    assert len(recorder.batches) < 8
    assert sorted(i for batch in recorder.batches for i in batch) == list(range(8))
    assert max(len(batch) for batch in recorder.batches) <= 4
    assert recorder.threads == {"micro-batcher"}  # the engine is only ever called from one thread


def test_items_of_different_keys_never_share_a_batch() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(
        recorder, key=lambda item: item % 2, policy=BatchPolicy(max_batch=8, window_seconds=0.2)
    )

    results = submit_all(batcher, list(range(6)))
    batcher.close()

    assert results == [i * 10 for i in range(6)]
    assert all(len({i % 2 for i in batch}) == 1 for batch in recorder.batches)


def test_a_failing_item_fails_alone() -> None:
    recorder = Recorder(poison=frozenset({2}))
    batcher = MicroBatcher(
        recorder, key=lambda item: "same", policy=BatchPolicy(max_batch=4, window_seconds=0.2)
    )

    results = submit_all(batcher, [1, 2, 3])
    batcher.close()

    assert results == [10, "bad item 2", 30]


def test_a_batch_that_raises_fails_each_of_its_items() -> None:
    def broken(items: list[int]) -> list[int]:
        raise RuntimeError("the GPU fell off")

    batcher = MicroBatcher(
        broken, key=lambda item: "same", policy=BatchPolicy(max_batch=2, window_seconds=0.0)
    )

    with pytest.raises(RuntimeError, match="fell off"):
        batcher.submit(1).result(timeout=5)
    batcher.close()


def test_a_lone_item_waits_no_longer_than_the_window() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(
        recorder, key=lambda item: "same", policy=BatchPolicy(max_batch=4, window_seconds=0.1)
    )

    started = time.monotonic()
    assert batcher.submit(7).result(timeout=5) == 70
    waited = time.monotonic() - started
    batcher.close()

    assert 0.09 <= waited < 1.0
    assert recorder.batches == [[7]]


def test_a_full_batch_goes_at_once_without_waiting_for_the_window() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(
        recorder, key=lambda item: "same", policy=BatchPolicy(max_batch=2, window_seconds=30)
    )

    started = time.monotonic()
    assert submit_all(batcher, [1, 2]) == [10, 20]
    batcher.close()

    assert time.monotonic() - started < 5


def test_a_bad_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        BatchPolicy(max_batch=0)


def test_the_batcher_thread_only_denoises_and_each_job_finishes_in_its_own_thread() -> None:
    engine = load_engine(None, device="cpu")
    finished_in: list[str] = []
    real_finish = engine.finish

    def finish(pending: Pending) -> GeneratedImage:
        finished_in.append(threading.current_thread().name)
        return real_finish(pending)

    engine.finish = finish  # type: ignore[method-assign]  # a spy on the real method
    batching = BatchingEngine(engine, BatchPolicy(max_batch=2, window_seconds=5.0))
    try:
        with ThreadPoolExecutor(2, thread_name_prefix="request") as pool:
            images = list(
                pool.map(batching.generate, [make_job(job_id="a", seed=1), make_job(job_id="b", seed=2)])
            )
    finally:
        batching.close()

    assert [image.batch_size for image in images] == [2, 2]  # one batch
    assert sorted(finished_in) == ["request_0", "request_1"]  # not "micro-batcher"
