"""The engine on the tiny random-weight pipeline: the real code path, on a CPU, in seconds."""

from __future__ import annotations

import io
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from diffusers import StableDiffusionPipeline
from PIL import Image

from gpu_service import postprocess
from gpu_service.contract import STYLES
from gpu_service.engine import TINY_SIZE, TINY_STEPS, Engine, load_engine

from .conftest import make_job


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


class RecordingPipeline(StableDiffusionPipeline):
    """The real pipeline, which also remembers the arguments of every call."""

    calls: list[dict[str, Any]]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        return super().__call__(*args, **kwargs)


def test_without_model_dir_the_tiny_pipeline_serves_every_style_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="gpu_service.engine"):
        engine = load_engine(None, device="cpu")

    assert engine.tiny and engine.device == "cpu"
    assert isinstance(engine.pipeline_for("ghibli"), StableDiffusionPipeline)
    assert {id(engine.pipeline_for(style)) for style in STYLES} == {id(engine.pipeline_for("ghibli"))}
    assert all(
        (s.width, s.height, s.steps) == (TINY_SIZE, TINY_SIZE, TINY_STEPS) for s in engine.styles.values()
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("no model weights configured: tiny random pipeline" in message for message in warnings)


@pytest.mark.parametrize("style", STYLES)
def test_generate_gives_a_png_of_the_styles_size(tiny_engine: Engine, style: str) -> None:
    image = tiny_engine.generate(make_job(style=style))

    picture = decode(image.png)
    assert image.png.startswith(b"\x89PNG\r\n\x1a\n")
    assert picture.format == "PNG" and picture.mode == "RGB"
    assert picture.size == (image.width, image.height) == (TINY_SIZE, TINY_SIZE)
    assert (image.style, image.seed, image.steps) == (style, 1234, TINY_STEPS)
    assert np.asarray(picture).std() > 1  # random weights still draw something, not a flat fill


def test_the_aspect_shapes_the_picture(tiny_engine: Engine) -> None:
    image = tiny_engine.generate(make_job(aspect="landscape"))

    assert decode(image.png).size == (image.width, image.height) == (192, 128)


def test_the_same_seed_draws_the_same_bytes_and_another_seed_does_not(tiny_engine: Engine) -> None:
    first = tiny_engine.generate(make_job(seed=99))
    again = tiny_engine.generate(make_job(seed=99))
    other = tiny_engine.generate(make_job(seed=100))

    assert first.png == again.png
    assert other.png != first.png


def test_pixel_art_comes_out_on_a_grid_with_a_small_palette(tiny_engine: Engine) -> None:
    pixels = np.asarray(decode(tiny_engine.generate(make_job(style="pixel")).png))

    cell = TINY_SIZE // postprocess.PIXEL_CELLS
    blocks = pixels.reshape(TINY_SIZE // cell, cell, TINY_SIZE // cell, cell, 3)
    assert (blocks == blocks[:, :1, :, :1, :]).all()
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) <= postprocess.PIXEL_COLOURS


def test_each_styles_settings_reach_the_pipeline(tiny_engine: Engine) -> None:
    spy = RecordingPipeline(**tiny_engine.pipeline_for("ghibli").components)
    spy.set_progress_bar_config(disable=True)
    spy.calls = []
    engine = Engine({style: spy for style in STYLES}, tiny_engine.styles, device="cpu")

    for style_id in STYLES:
        engine.generate(make_job(style=style_id, prompt="a red kite", negative_prompt="birds", seed=5))

    assert len(spy.calls) == len(STYLES)
    for style_id, call in zip(STYLES, spy.calls, strict=True):
        style = tiny_engine.styles[style_id]
        assert call["prompt"] == style.prompt_template.format(prompt="a red kite")
        assert call["negative_prompt"] == f"{style.negative_prompt}, birds"
        assert call["num_inference_steps"] == style.steps
        assert call["guidance_scale"] == style.guidance
        assert (call["width"], call["height"]) == (style.width, style.height)
        assert call["generator"].initial_seed() == 5
    assert len({call["prompt"] for call in spy.calls}) == len(STYLES)  # the styles really differ


def test_concurrent_calls_draw_what_a_lone_call_draws(tiny_engine: Engine) -> None:
    # Without the engine's lock, threads interleave inside the scheduler and the bytes differ.
    jobs = [make_job(style=style, seed=seed) for style, seed in zip(STYLES, (1, 2, 3), strict=True)]
    alone = [tiny_engine.generate(job).png for job in jobs]

    with ThreadPoolExecutor(max_workers=3) as pool:
        together = [image.png for image in pool.map(tiny_engine.generate, jobs)]

    assert together == alone


def test_warm_up_draws_once_per_distinct_pipeline(tiny_engine: Engine) -> None:
    spy = RecordingPipeline(**tiny_engine.pipeline_for("ghibli").components)
    spy.set_progress_bar_config(disable=True)
    spy.calls = []
    engine = Engine({style: spy for style in STYLES}, tiny_engine.styles, device="cpu")

    engine.warm_up()

    assert len(spy.calls) == 1


def test_an_engine_needs_every_style() -> None:
    with pytest.raises(ValueError, match="pixel"):
        Engine({}, {}, device="cpu")
