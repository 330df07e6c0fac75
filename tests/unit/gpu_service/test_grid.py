"""A grid job: GRID_SIZE candidates in one call, each checked, and their 2x2 collage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from gpu_service.batching import BatchPolicy, MicroBatcher, next_batch
from gpu_service.collage import BLANK, collage
from gpu_service.contract import GRID_SIZE, candidate_seed
from gpu_service.engine import Engine
from gpu_service.loading import load_engine
from gpu_service.refusals import UnsafeOutput
from tests.support.spy import FlagEverything

from .conftest import decode, make_job, pixels, spy_engine
from .test_engine import lossless


class FlagNth:
    """Flags the pictures checked in the given places (1 = the first checked), in order."""

    def __init__(self, *places: int) -> None:
        self.places = set(places)
        self.checked = 0

    def flagged(self, pictures: Sequence[Image.Image], prompts: Sequence[str]) -> list[bool]:
        flags = []
        for _ in pictures:
            self.checked += 1
            flags.append(self.checked in self.places)
        return flags


@pytest.fixture(scope="module")
def engine() -> Engine:
    return load_engine(None, device="cpu", warm_up=False)


def test_a_grid_is_four_candidates_in_one_call_with_consecutive_seeds() -> None:
    engine = lossless(load_engine(None, device="cpu", warm_up=False))
    spied, spy = spy_engine(engine)
    job = make_job(candidates=GRID_SIZE, seed=2**32 - 2, style="realistic")

    grid = spied.generate(job)

    (call,) = spy.calls
    assert len(call["prompt"]) == GRID_SIZE and len(call["generator"]) == GRID_SIZE
    assert [c.seed for c in grid.candidates if c] == [2**32 - 2, 2**32 - 1, 0, 1]
    # candidate n is the picture a single job of its seed draws (to the level of 255 that the
    # CPU's batched kernels may round otherwise: test_engine)
    for n, candidate in enumerate(grid.candidates, 1):
        assert candidate is not None
        alone = engine.generate(make_job(seed=candidate_seed(job.seed, n), style="realistic"))
        assert np.abs(pixels(candidate.data) - pixels(alone.data)).max() <= 1


def test_the_collage_is_the_four_candidates_two_by_two(engine: Engine) -> None:
    grid = engine.generate(make_job(candidates=GRID_SIZE, style="pixel"))

    tiles = [decode(c.data).convert("RGB") for c in grid.candidates if c]
    width, height = tiles[0].size
    sheet = decode(grid.data).convert("RGB")
    assert (grid.width, grid.height) == sheet.size == (2 * width, 2 * height)
    assert grid.encoding == "png" and all(c and c.encoding == "png" for c in grid.candidates)
    for n, tile in enumerate(tiles):
        x, y = (n % 2) * width, (n // 2) * height
        if tile.size == (width, height):
            assert np.array_equal(np.asarray(sheet.crop((x, y, x + width, y + height))), np.asarray(tile))


def test_a_flagged_candidate_is_left_out_and_its_tile_blank(engine: Engine) -> None:
    spied, _ = spy_engine(engine, safety=FlagNth(2))

    grid = spied.generate(make_job(candidates=GRID_SIZE, style="ghibli"))

    assert [c is None for c in grid.candidates] == [False, True, False, False]
    width, height = grid.width // 2, grid.height // 2
    tile = np.asarray(decode(grid.data).convert("RGB").crop((width, 0, 2 * width, height))).astype(int)
    assert np.abs(tile - np.array(BLANK)).max() <= 8  # mid grey (JPEG wobbles a little)


def test_a_grid_with_every_candidate_flagged_is_a_flagged_job(engine: Engine) -> None:
    spied, _ = spy_engine(engine, safety=FlagEverything())
    with pytest.raises(UnsafeOutput):
        spied.generate(make_job(candidates=GRID_SIZE))


def test_a_grid_of_a_photo_starts_every_candidate_from_it() -> None:
    engine = lossless(load_engine(None, device="cpu", warm_up=False))
    job = make_job(candidates=GRID_SIZE, input_image="candidates/u7/2.jpg", strength=0.3)
    start = Image.new("RGB", (128, 128), (250, 250, 10))

    grid = engine.generate(job, start)

    for n, candidate in enumerate(grid.candidates, 1):
        assert candidate is not None
        single = replace(job, candidates=1, seed=candidate_seed(job.seed, n))
        assert np.abs(pixels(candidate.data) - pixels(engine.generate(single, start).data)).max() <= 1


def test_the_collage_scales_a_tile_of_another_size_and_blanks_a_missing_one() -> None:
    red, green = Image.new("RGB", (4, 2), (255, 0, 0)), Image.new("RGB", (8, 4), (0, 255, 0))

    sheet = np.asarray(collage([red, None, green, red]))

    assert sheet.shape == (4, 8, 3)
    assert (
        tuple(sheet[0, 4]) == BLANK
        and tuple(sheet[2, 0]) == (0, 255, 0)
        and tuple(sheet[3, 7]) == (255, 0, 0)
    )
    with pytest.raises(ValueError):
        collage([red, red, red])
    with pytest.raises(ValueError):
        collage([None] * GRID_SIZE)


class Weighted:
    def __init__(self, key: str, weight: int) -> None:
        self.key, self.weight = key, weight


def test_a_batch_is_full_at_max_batch_pictures_a_grid_weighing_its_candidates() -> None:
    from gpu_service.batching import _Waiting

    def waiting(*weights: int) -> list[_Waiting[int, int]]:
        return [_Waiting(n, "k", 0.0, weight=w) for n, w in enumerate(weights)]

    assert [e.item for e in next_batch(waiting(1, 1, 4, 1), 4)] == [0, 1]
    assert [e.item for e in next_batch(waiting(4, 1, 1), 4)] == [0]
    assert [e.item for e in next_batch(waiting(1, 1, 1, 1, 1), 4)] == [0, 1, 2, 3]
    assert [e.item for e in next_batch(waiting(8), 4)] == [0]  # the oldest goes, whatever it weighs


def test_the_batcher_runs_a_grid_alone_and_singles_together() -> None:
    batches: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        batches.append(items)
        return items

    batcher = MicroBatcher(
        run,
        key=lambda item: "k",
        policy=BatchPolicy(max_batch=4, window_seconds=0.5),
        weight=lambda item: GRID_SIZE if item >= 100 else 1,
    )
    futures = [batcher.submit(item) for item in (100, 1, 2)]
    assert [f.result(timeout=10) for f in futures] == [100, 1, 2]
    batcher.close()
    assert batches == [[100], [1, 2]]
