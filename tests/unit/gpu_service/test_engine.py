"""The engine on the tiny random-weight SDXL pipeline: the real code path, on a CPU, in seconds."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pytest
from diffusers import StableDiffusionXLPipeline

from gpu_service.contract import ASPECTS, STYLES
from gpu_service.engine import TINY_SIZE, TINY_STEPS, Engine, redraw_seed
from gpu_service.loading import load_engine
from gpu_service.refusals import BrokenOutput, UnsafeOutput
from gpu_service.safety import ClipSafetyChecker, MarkedPromptChecker
from gpu_service.styles import LCM_XL, LIGHTNING_2, LIGHTNING_4, Recipe
from gpu_service.tiny_pipeline import build_tiny_safety_checker
from tests.support.spy import FlagEverything

from .conftest import decode, make_job, pixels, spy_engine


def lossless(engine: Engine) -> Engine:
    """The engine's styles untouched and in PNG: the pipeline's own pixels, to compare."""
    engine.styles = {k: replace(v, postprocess="none", encoding="png") for k, v in engine.styles.items()}
    return engine


def test_without_models_the_tiny_sdxl_pipeline_serves_every_style_and_says_so_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="gpu_service.loading"):
        engine = load_engine(None, device="cpu")

    pipeline = engine.pipeline_for("ghibli")
    assert engine.tiny and engine.device == "cpu"
    assert isinstance(pipeline, StableDiffusionXLPipeline)
    assert pipeline.unet.config.addition_embed_type == "text_time"
    assert type(pipeline.text_encoder_2).__name__ == "CLIPTextModelWithProjection"
    assert {id(engine.pipeline_for(style)) for style in STYLES} == {id(pipeline)}
    assert all(s.size == TINY_SIZE for s in engine.styles.values())
    assert all(r.steps <= TINY_STEPS for s in engine.styles.values() for r in s.recipes().values())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("NO MODEL WEIGHTS CONFIGURED: TINY RANDOM SDXL PIPELINE" in message for message in warnings)


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
    assert picture.size == (image.width, image.height)
    assert image.width >= TINY_SIZE and image.height >= TINY_SIZE
    assert (image.style, image.seed, image.batch_size) == (style, 1234, 1)
    assert pixels(image.data).std() > 1  # random weights still draw something, not a flat fill


def test_the_aspects_are_sdxls_buckets_and_economy_keeps_the_size(tiny_engine: Engine) -> None:
    portrait = tiny_engine.generate(make_job(aspect="portrait"))
    landscape = tiny_engine.generate(make_job(aspect="landscape"))
    economy = tiny_engine.generate(make_job(mode="economy", aspect="square"))

    # 7/8 and 9/8 of the square's side, as 896x1152 and 1152x896 are of 1024.
    assert decode(portrait.data).size == (TINY_SIZE * 7 // 8, TINY_SIZE * 9 // 8)
    assert decode(landscape.data).size == (TINY_SIZE * 9 // 8, TINY_SIZE * 7 // 8)
    assert decode(economy.data).size == (TINY_SIZE, TINY_SIZE)


def test_the_same_seed_draws_the_same_bytes_and_another_seed_does_not(tiny_engine: Engine) -> None:
    first = tiny_engine.generate(make_job(seed=99))
    again = tiny_engine.generate(make_job(seed=99))
    other = tiny_engine.generate(make_job(seed=100))

    assert first.data == again.data
    assert other.data != first.data


@pytest.mark.parametrize("negative", ["", "birds"], ids=["unguided", "guided"])
def test_a_job_draws_the_same_picture_alone_and_in_batches_of_2_and_4(negative: str) -> None:
    engine = lossless(load_engine(None, device="cpu"))
    jobs = [
        make_job(job_id=f"j{n}", seed=n, prompt=f"a fox number {n}", negative_prompt=negative)
        for n in range(4)
    ]

    alone = [engine.generate(job) for job in jobs]
    pairs = engine.generate_batch(jobs[:2]) + engine.generate_batch(jobs[2:])
    four = engine.generate_batch(jobs)

    # Each job has its own generator, so its starting noise does not depend on the batch. The
    # CPU's matrix kernels still block a batch differently from a single picture, so a few
    # values in ten thousand round the other way: at most one level of 255, never a different
    # picture. (On a GPU the same holds; bit-identical output needs batch-invariant kernels.)
    for one, *together in zip(alone, pairs, four, strict=True):
        for batched in together:
            assert not isinstance(batched, Exception)
            difference = np.abs(pixels(one.data) - pixels(batched.data))
            assert difference.max() <= 1
            assert (difference > 0).mean() < 0.001
    assert len({item.data for item in alone}) == len(jobs)  # and the jobs really differ


def test_the_fast_path_is_lightning_without_guidance_and_says_so(tiny_engine: Engine) -> None:
    engine, spy = spy_engine(tiny_engine)

    for style_id in STYLES:
        image = engine.generate(make_job(style=style_id, prompt="a red kite", seed=5))
        assert not image.negative_applied

    assert len(spy.calls) == len(STYLES)
    for style_id, call in zip(STYLES, spy.calls, strict=True):
        style = tiny_engine.styles[style_id]
        assert call["prompt"] == [style.prompt_template.format(prompt="a red kite")]
        assert "negative_prompt" not in call  # no guidance: it would be ignored anyway
        assert (call["num_inference_steps"], call["guidance_scale"]) == (style.fast.steps, 0.0)
        assert call["scheduler"] == "EulerDiscreteScheduler"
        assert call["scheduler_config"]["timestep_spacing"] == "trailing"
        assert (call["width"], call["height"]) == (style.size, style.size)
        assert [g.initial_seed() for g in call["generator"]] == [5]
        assert call["output_type"] == "latent"  # decoding happens in finish(), off the batcher
    assert len({call["prompt"][0] for call in spy.calls}) == len(STYLES)  # the styles really differ


def test_a_job_with_a_negative_prompt_takes_the_guided_recipe_which_honours_it(tiny_engine: Engine) -> None:
    engine, spy = spy_engine(tiny_engine)

    image = engine.generate(make_job(style="pixel", prompt="a red kite", negative_prompt="birds", seed=5))

    (call,) = spy.calls
    style = tiny_engine.styles["pixel"]
    assert call["negative_prompt"] == [f"{style.negative_prompt}, birds"]
    assert (call["scheduler"], call["guidance_scale"]) == ("LCMScheduler", 1.5)
    assert call["active_adapters"] == sorted(["pixel-art", LCM_XL.name])
    assert image.negative_applied


def test_economy_mode_cannot_apply_a_negative_prompt_and_does_not_claim_to(tiny_engine: Engine) -> None:
    engine, spy = spy_engine(tiny_engine)

    image = engine.generate(make_job(mode="economy", negative_prompt="birds"))

    (call,) = spy.calls
    assert (call["num_inference_steps"], call["guidance_scale"]) == (
        tiny_engine.styles["ghibli"].economy.steps,
        0.0,
    )
    assert call["active_adapters"] == sorted(["ghibli", LIGHTNING_2.name])
    assert not image.negative_applied


def test_the_quality_path_changes_scheduler_steps_and_guidance() -> None:
    engine = load_engine(None, device="cpu")
    engine.styles["realistic"] = replace(
        engine.styles["realistic"].with_path("quality"),
        quality=replace(engine.styles["realistic"].quality, steps=3),
    )
    spied, spy = spy_engine(engine)

    spied.generate(make_job(style="realistic"))

    (quality,) = spy.calls
    assert (quality["scheduler"], quality["num_inference_steps"], quality["guidance_scale"]) == (
        "DPMSolverMultistepScheduler",
        3,
        5.0,
    )
    assert quality["active_adapters"] == []  # the plain fine-tune: every LoRA off


def test_a_ddim_batch_after_a_dpm_batch_gets_the_models_own_settings_not_the_last_schedulers() -> None:
    # DPM++ has no clip_sample setting, so a DDIM built from a DPM++ scheduler's config would
    # fall back to DDIM's default, clip_sample=True: a visibly wrong picture.
    engine = load_engine(None, device="cpu")
    dpm = replace(engine.styles["realistic"].with_path("quality"), quality=Recipe("dpmpp_2m_karras", 2, 5.0))
    ddim = replace(engine.styles["ghibli"].with_path("quality"), quality=Recipe("ddim", 2, 5.0))
    engine.styles.update(realistic=dpm, ghibli=ddim)
    spied, spy = spy_engine(engine)

    spied.generate(make_job(style="realistic"))
    spied.generate(make_job(style="ghibli"))

    after_dpm = spy.calls[1]
    assert after_dpm["scheduler"] == "DDIMScheduler"
    assert after_dpm["scheduler_config"]["clip_sample"] is False  # SDXL's, as loaded
    assert after_dpm["scheduler_config"]["timestep_spacing"] == "leading"


def test_lora_adapters_switch_with_the_plan_across_batches_of_different_styles() -> None:
    # The tiny pipeline's UNet and text encoders serve all three styles: ghibli's LoRA (with
    # text-encoder weights), pixel-art's, and the few-step ones, switched per batch.
    engine = lossless(load_engine(None, device="cpu"))
    job = make_job(seed=7)
    order = ["pixel", "ghibli", "realistic", "ghibli", "pixel", "realistic"]

    drawn = [engine.generate(replace(job, style=style)).data for style in order]
    encoder = engine.pipeline_for("ghibli").text_encoder

    assert drawn[1] == drawn[3] and drawn[0] == drawn[4] and drawn[2] == drawn[5]
    assert len({drawn[0], drawn[1], drawn[2]}) == 3
    assert set(engine.pipeline_for("realistic").unet.active_adapters()) == {LIGHTNING_4.name}
    assert "ghibli" in encoder.peft_config  # a style LoRA's text-encoder part is switched too


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


def test_a_picture_the_safety_checker_flags_is_refused_as_flagged(
    tiny_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    checker, extractor = build_tiny_safety_checker(flag_all=True)
    engine, _ = spy_engine(tiny_engine, safety=ClipSafetyChecker(checker, extractor, device="cpu"))

    with caplog.at_level(logging.WARNING, logger="gpu_service.engine"):
        results = engine.generate_batch([make_job(seed=1), make_job(seed=2)])

    assert all(isinstance(result, UnsafeOutput) and result.reason == "flagged" for result in results)
    assert any("safety checker flagged" in r.getMessage() for r in caplog.records)


def test_a_checker_that_flags_nothing_lets_the_picture_through(tiny_engine: Engine) -> None:
    checker, extractor = build_tiny_safety_checker(flag_all=False)
    engine, _ = spy_engine(tiny_engine, safety=ClipSafetyChecker(checker, extractor, device="cpu"))

    assert engine.generate(make_job()).data


def test_the_tiny_checker_flags_the_pictures_of_a_prompt_with_its_marker_word_only(
    tiny_engine: Engine,
) -> None:
    checker, extractor = build_tiny_safety_checker(flag_all=False)
    marked = MarkedPromptChecker(ClipSafetyChecker(checker, extractor, device="cpu"), "flagme")
    engine, _ = spy_engine(tiny_engine, safety=marked)

    results = engine.generate_batch(
        [
            make_job(job_id="u1", prompt="a FlagMe harbour"),
            make_job(job_id="u2", prompt="a flagmeadow harbour"),
        ]
    )

    assert isinstance(results[0], UnsafeOutput) and results[0].reason == "flagged"
    assert not isinstance(results[1], BaseException) and results[1].data  # a word, not a substring


def test_the_tiny_pipeline_has_a_safety_checker_only_with_a_marker_word() -> None:
    assert load_engine(None, warm_up=False).safety is None
    assert isinstance(load_engine(None, warm_up=False, tiny_flag_word="flagme").safety, MarkedPromptChecker)


def test_a_nan_or_black_decode_is_drawn_once_more_with_a_new_seed_never_sent(tiny_engine: Engine) -> None:
    engine, spy = spy_engine(tiny_engine)
    real_decode = engine._decode
    broken = iter([np.nan, 0.0])  # the first decode NaN, the second black, then real ones

    def decode_badly(style_id: str, latents: object) -> np.ndarray:
        value = next(broken, None)
        pictures = real_decode(style_id, latents)  # type: ignore[arg-type]
        return pictures if value is None else np.full_like(pictures, value)

    engine._decode = decode_badly  # type: ignore[method-assign]

    with pytest.raises(BrokenOutput):
        engine.generate(make_job(seed=11))  # NaN, then black: broken twice, never sent
    image = engine.generate(make_job(seed=12))  # fine the first time

    assert [g.initial_seed() for call in spy.calls[:2] for g in call["generator"]] == [11, redraw_seed(11)]
    assert image.seed == 12 and redraw_seed(11) != 11


def test_a_broken_picture_that_redraws_fine_carries_its_new_seed(tiny_engine: Engine) -> None:
    engine, _ = spy_engine(tiny_engine)
    real_decode = engine._decode
    calls = iter([True])

    def black_once(style_id: str, latents: object) -> np.ndarray:
        pictures = real_decode(style_id, latents)  # type: ignore[arg-type]
        return np.zeros_like(pictures) if next(calls, False) else pictures

    engine._decode = black_once  # type: ignore[method-assign]

    assert engine.generate(make_job(seed=21)).seed == redraw_seed(21)


def test_a_batch_must_share_one_plan(tiny_engine: Engine) -> None:
    with pytest.raises(ValueError, match="one plan"):
        tiny_engine.generate_batch([make_job(style="ghibli"), make_job(style="pixel")])


def test_warm_up_draws_every_served_shape_once_at_the_batch_size(tiny_engine: Engine) -> None:
    engine, spy = spy_engine(tiny_engine)
    engine.warm_up_batch = 2
    engine.safety = FlagEverything()  # warm-up runs the checker, and ignores what it says

    engine.warm_up()

    shapes = {(plan.style, plan.recipe_name, plan.width, plan.height) for plan in engine.warmed}
    expected = {
        (style, recipe, *tiny_engine.styles[style].size_for(aspect))
        for style in STYLES
        for recipe in ("fast", "guided", "economy")
        for aspect in ASPECTS
    }
    assert shapes == expected and len(engine.warmed) == len(expected)
    assert len(spy.calls) == len(expected) and all(call["num_inference_steps"] == 1 for call in spy.calls)
    # Each tensor shape (3 aspects, guided or not, on the one tiny UNet) once at the batch size.
    assert sorted(len(call["prompt"]) for call in spy.calls) == [1] * (len(expected) - 6) + [2] * 6


def test_an_engine_needs_every_style() -> None:
    with pytest.raises(ValueError, match="pixel"):
        Engine({}, {}, device="cpu")
