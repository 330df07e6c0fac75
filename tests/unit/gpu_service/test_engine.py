"""The engine on the tiny random-weight pipeline: the real code path, on a CPU, in seconds."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest
from diffusers import StableDiffusionPipeline

from gpu_service import postprocess
from gpu_service.contract import STYLES
from gpu_service.engine import TINY_ECONOMY_SIZE, TINY_SIZE, TINY_STEPS, Engine
from gpu_service.loading import load_engine
from gpu_service.refusals import UnsafeOutput
from gpu_service.styles import LCM_LORA
from gpu_service.tiny_pipeline import build_tiny_safety_checker

from .conftest import decode, make_job, pixels, spy_engine


def test_without_models_the_tiny_pipeline_serves_every_style_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="gpu_service.loading"):
        engine = load_engine(None, device="cpu")

    assert engine.tiny and engine.device == "cpu"
    assert isinstance(engine.pipeline_for("ghibli"), StableDiffusionPipeline)
    assert {id(engine.pipeline_for(style)) for style in STYLES} == {id(engine.pipeline_for("ghibli"))}
    assert all((s.size, s.economy_size) == (TINY_SIZE, TINY_ECONOMY_SIZE) for s in engine.styles.values())
    assert all(s.fast.steps == s.quality.steps == TINY_STEPS for s in engine.styles.values())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("no model weights configured: tiny random pipeline" in message for message in warnings)


@pytest.mark.parametrize(
    ("style", "fmt", "content_type"),
    [("ghibli", "JPEG", "image/jpeg"), ("realistic", "JPEG", "image/jpeg"), ("pixel", "PNG", "image/png")],
)
def test_each_style_comes_out_in_its_encoding_and_size(
    tiny_engine: Engine, style: str, fmt: str, content_type: str
) -> None:
    image = tiny_engine.generate(make_job(style=style))

    picture = decode(image.data)
    assert picture.format == fmt and image.content_type == content_type
    assert picture.size == (image.width, image.height) == (TINY_SIZE, TINY_SIZE)
    assert (image.style, image.seed, image.steps, image.batch_size) == (style, 1234, TINY_STEPS, 1)
    assert pixels(image.data).std() > 1  # random weights still draw something, not a flat fill


def test_the_aspect_and_economy_mode_shape_the_picture(tiny_engine: Engine) -> None:
    landscape = tiny_engine.generate(make_job(aspect="landscape"))
    economy = tiny_engine.generate(make_job(mode="economy", aspect="portrait"))

    assert decode(landscape.data).size == (192, 128)
    assert decode(economy.data).size == (TINY_ECONOMY_SIZE, 128)  # 64 * 1.5 = 96, rounded to 128


def test_the_same_seed_draws_the_same_bytes_and_another_seed_does_not(tiny_engine: Engine) -> None:
    first = tiny_engine.generate(make_job(seed=99))
    again = tiny_engine.generate(make_job(seed=99))
    other = tiny_engine.generate(make_job(seed=100))

    assert first.data == again.data
    assert other.data != first.data


def test_a_job_draws_the_same_picture_alone_and_inside_a_batch() -> None:
    # Lossless and untouched, to compare the pipeline's own pixels.
    engine = load_engine(None, device="cpu")
    engine.styles = {k: replace(v, postprocess="none", encoding="png") for k, v in engine.styles.items()}
    jobs = [make_job(job_id=f"j{n}", seed=n, prompt=f"a fox number {n}") for n in range(4)]

    batched = engine.generate_batch(jobs)
    alone = [engine.generate(job) for job in jobs]

    # Each job has its own generator, so its starting noise does not depend on the batch. The
    # CPU's matrix kernels still block a batch of 4 differently from a batch of 1, so a few
    # values in ten thousand round the other way: at most one level of 255, never a different
    # picture. (On a GPU the same holds; bit-identical output needs batch-invariant kernels.)
    for one, together in zip(alone, batched, strict=True):
        assert not isinstance(together, Exception)
        difference = np.abs(pixels(one.data) - pixels(together.data))
        assert difference.max() <= 1
        assert (difference > 0).mean() < 0.001
    assert len({item.data for item in alone}) == len(jobs)  # and the jobs really differ


def test_pixel_art_comes_out_on_a_grid_with_a_small_palette(tiny_engine: Engine) -> None:
    image = tiny_engine.generate(make_job(style="pixel"))
    drawn = pixels(image.data)

    assert decode(image.data).mode == "P"  # a palette PNG: smaller than RGB
    cell = TINY_SIZE // postprocess.PIXEL_CELLS
    blocks = drawn.reshape(TINY_SIZE // cell, cell, TINY_SIZE // cell, cell, 3)
    assert (blocks == blocks[:, :1, :, :1, :]).all()
    assert len(np.unique(drawn.reshape(-1, 3), axis=0)) <= postprocess.PIXEL_COLOURS


def test_each_styles_settings_reach_the_pipeline(tiny_engine: Engine) -> None:
    engine, spy = spy_engine(tiny_engine)

    for style_id in STYLES:
        engine.generate(make_job(style=style_id, prompt="a red kite", negative_prompt="birds", seed=5))

    assert len(spy.calls) == len(STYLES)
    for style_id, call in zip(STYLES, spy.calls, strict=True):
        style = tiny_engine.styles[style_id]
        assert call["prompt"] == [style.prompt_template.format(prompt="a red kite")]
        assert call["negative_prompt"] == [f"{style.negative_prompt}, birds"]
        assert call["num_inference_steps"] == style.fast.steps
        assert call["guidance_scale"] == style.fast.guidance
        assert call["scheduler"] == "LCMScheduler"
        assert (call["width"], call["height"]) == (style.size, style.size)
        assert [g.initial_seed() for g in call["generator"]] == [5]
    assert len({call["prompt"][0] for call in spy.calls}) == len(STYLES)  # the styles really differ


def test_the_quality_path_and_economy_mode_change_scheduler_steps_guidance_and_size() -> None:
    engine = load_engine(None, device="cpu")
    engine.styles["realistic"] = replace(
        engine.styles["realistic"].with_path("quality"),
        quality=replace(engine.styles["realistic"].quality, steps=3),
    )
    spied, spy = spy_engine(engine)

    spied.generate(make_job(style="realistic"))
    spied.generate(make_job(style="realistic", mode="economy"))

    quality, economy = spy.calls
    assert (quality["scheduler"], quality["num_inference_steps"], quality["guidance_scale"]) == (
        "DPMSolverMultistepScheduler",
        3,
        5.0,
    )
    assert quality["width"] == TINY_SIZE
    assert (economy["scheduler"], economy["num_inference_steps"], economy["guidance_scale"]) == (
        "LCMScheduler",
        2,
        1.0,
    )
    assert economy["width"] == TINY_ECONOMY_SIZE


def test_lora_adapters_switch_with_the_plan(tiny_engine: Engine) -> None:
    # The tiny pipeline's UNet serves all three styles, with two adapter sets: LCM alone, and
    # LCM with the pixel-art LoRA. They cannot be fused, so they are switched per batch.
    unet = tiny_engine.pipeline_for("pixel").unet
    assert not tiny_engine.adapters["pixel"].fused

    tiny_engine.generate(make_job(style="pixel"))
    pixel_active = set(unet.active_adapters())
    tiny_engine.generate(make_job(style="ghibli"))
    ghibli_active = set(unet.active_adapters())

    assert pixel_active == {"pixel-art", LCM_LORA.name}
    assert ghibli_active == {LCM_LORA.name}


def test_a_failing_batch_is_drawn_job_by_job_so_only_the_bad_job_fails(tiny_engine: Engine) -> None:
    engine, spy = spy_engine(tiny_engine)
    spy.fail_when = lambda call: "poison" in " ".join(call["prompt"])
    jobs = [
        make_job(job_id="a", seed=1),
        make_job(job_id="b", prompt="poison", seed=2),
        make_job(job_id="c", seed=3),
    ]

    results = engine.generate_batch(jobs)

    assert [type(r).__name__ for r in results] == ["GeneratedImage", "RuntimeError", "GeneratedImage"]
    assert [len(call["prompt"]) for call in spy.calls] == [3, 1, 1, 1]  # the batch, then one by one


def test_a_picture_the_safety_checker_flags_is_refused_not_returned(
    tiny_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    checker, extractor = build_tiny_safety_checker(flag_all=True)
    engine, _ = spy_engine(tiny_engine, safety_checker=checker, feature_extractor=extractor)

    with caplog.at_level(logging.WARNING, logger="gpu_service.engine"):
        results = engine.generate_batch([make_job(seed=1), make_job(seed=2)])

    assert all(isinstance(result, UnsafeOutput) and result.reason == "unsafe output" for result in results)
    assert any(
        "safety checker flagged" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
    )
    with pytest.raises(UnsafeOutput):
        engine.generate(make_job())


def test_a_checker_that_flags_nothing_lets_the_picture_through(tiny_engine: Engine) -> None:
    checker, extractor = build_tiny_safety_checker(flag_all=False)
    engine, _ = spy_engine(tiny_engine, safety_checker=checker, feature_extractor=extractor)

    assert engine.generate(make_job()).data


def test_a_batch_must_share_one_plan(tiny_engine: Engine) -> None:
    with pytest.raises(ValueError, match="one plan"):
        tiny_engine.generate_batch([make_job(style="ghibli"), make_job(style="pixel")])


def test_warm_up_draws_each_distinct_plan_once_at_the_batch_size(tiny_engine: Engine) -> None:
    engine, spy = spy_engine(tiny_engine)
    engine.warm_up_batch = 3

    engine.warm_up()

    # Ghibli and realistic share the pipeline and their plans' shapes: fast and economy for
    # them, fast and economy for pixel (other adapters): four calls of three pictures each.
    assert len(spy.calls) == 4
    assert all(len(call["prompt"]) == 3 for call in spy.calls)


def test_an_engine_needs_every_style() -> None:
    with pytest.raises(ValueError, match="pixel"):
        Engine({}, {}, device="cpu")
