"""Loading real weights: a models folder in diffusers layout (gpu_service/layout.py), one
SDXL pipeline folder per style plus LoRAs and the standalone safety checker, through the same
loader the cloud uses.

The folders are tiny SDXL pipelines saved with `save_pretrained`; gs:// loading and the folder
the preparation command writes are tested in tests/integration/gpu_service.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from gpu_service.contract import STYLES
from gpu_service.engine import Engine
from gpu_service.loading import ModelDirError, load_engine
from gpu_service.refusals import UnsafeOutput
from gpu_service.styles import loras_for
from gpu_service.tiny_pipeline import (
    build_tiny_pipeline,
    build_tiny_safety_checker,
    build_tiny_unet,
    save_tiny_lora,
)

from .conftest import make_job, pixels

# The style LoRAs ship in Kohya's format with text-encoder keys, as most published ones do.
STYLE_LORAS = ("ghibli", "pixel-art")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, tiny_engine: Engine) -> Path:
    """ghibli and pixel: one SDXL base (byte-identical folders); realistic: the same text
    encoders, tokenizers and VAE with its own UNet (a fine-tune). LoRAs as the tiny engine
    makes them in code (same seeds), so both draw the same pictures."""
    root = tmp_path_factory.mktemp("models")
    base = build_tiny_pipeline(seed=0)
    base.save_pretrained(root / "ghibli")
    base.save_pretrained(root / "pixel")
    torch.manual_seed(1)
    base.unet = build_tiny_unet()
    base.save_pretrained(root / "realistic")
    for seed, name in enumerate(sorted(loras_for(tiny_engine.styles.values()))):
        style_lora = name in STYLE_LORAS
        save_tiny_lora(
            root / "loras" / name,
            name,
            f"{name}.safetensors",
            seed + 1,
            text_encoders=style_lora,
            kohya=style_lora,
        )
    return root


@pytest.fixture(scope="module")
def loaded(model_dir: Path, tiny_engine: Engine) -> Engine:
    return load_engine(str(model_dir), device="cpu", styles=tiny_engine.styles)


def test_each_style_loads_from_its_folder_and_byte_identical_parts_are_shared(loaded: Engine) -> None:
    ghibli, realistic, pixel = (loaded.pipeline_for(style) for style in STYLES)

    assert not loaded.tiny
    # Two styles that are LoRAs on one base share its UNet; the fine-tune has its own.
    assert ghibli.unet is pixel.unet and realistic.unet is not ghibli.unet
    assert ghibli.vae is realistic.vae is pixel.vae
    assert ghibli.text_encoder is realistic.text_encoder is pixel.text_encoder
    assert ghibli.text_encoder_2 is realistic.text_encoder_2 is pixel.text_encoder_2
    assert ghibli.tokenizer is realistic.tokenizer and ghibli.tokenizer_2 is pixel.tokenizer_2
    assert loaded.safety is None  # none in these folders


def test_loras_stay_adapters_loaded_once_per_unet_kohya_files_with_text_encoder_keys_included(
    loaded: Engine,
) -> None:
    base, realistic = loaded.pipeline_for("ghibli"), loaded.pipeline_for("realistic")

    assert set(base.unet.peft_config) == {"ghibli", "pixel-art", "lightning-4", "lightning-2", "lcm"}
    assert set(realistic.unet.peft_config) == {"lightning-4", "lightning-2", "lcm"}
    # The Kohya files' lora_te1_* and lora_te2_* keys reached both (shared) text encoders.
    assert set(base.text_encoder.peft_config) == set(base.text_encoder_2.peft_config) == set(STYLE_LORAS)


def test_loaded_weights_draw_what_the_in_code_pipeline_draws(loaded: Engine, tiny_engine: Engine) -> None:
    lossless = {k: replace(v, postprocess="none", encoding="png") for k, v in tiny_engine.styles.items()}
    loaded.styles, original = lossless, loaded.styles
    in_code = Engine({s: tiny_engine.pipeline_for(s) for s in STYLES}, lossless, device="cpu")
    try:
        for style in ("ghibli", "pixel"):
            for negative in ("", "birds"):
                job = make_job(style=style, seed=321, negative_prompt=negative)
                difference = np.abs(pixels(loaded.generate(job).data) - pixels(in_code.generate(job).data))
                assert difference.max() <= 1, (style, negative)
    finally:
        loaded.styles = original


def test_switching_between_styles_that_share_a_unet_and_encoders_draws_each_as_alone(loaded: Engine) -> None:
    job = make_job(seed=8)
    first = {style: loaded.generate(replace(job, style=style)).data for style in STYLES}

    again = {style: loaded.generate(replace(job, style=style)).data for style in reversed(STYLES)}

    assert first == again and len(set(first.values())) == 3


def test_the_safety_checker_in_its_folder_is_loaded_once_and_obeyed(
    model_dir: Path, tiny_engine: Engine, tmp_path: Path
) -> None:
    for part in ("ghibli", "realistic", "pixel", "loras"):
        shutil.copytree(model_dir / part, tmp_path / part)
    checker, extractor = build_tiny_safety_checker(flag_all=True)
    checker.save_pretrained(tmp_path / "safety" / "safety_checker")
    extractor.save_pretrained(tmp_path / "safety" / "feature_extractor")

    engine = load_engine(str(tmp_path), device="cpu", styles=tiny_engine.styles)

    assert engine.safety is not None
    with pytest.raises(UnsafeOutput):
        engine.generate(make_job(style="realistic"))


def test_a_missing_style_folder_is_named(tmp_path: Path) -> None:
    build_tiny_pipeline().save_pretrained(tmp_path / "ghibli")

    with pytest.raises(ModelDirError, match="realistic"):
        load_engine(str(tmp_path), device="cpu")


def test_a_missing_lora_is_named(model_dir: Path, tiny_engine: Engine, tmp_path: Path) -> None:
    for style in STYLES:
        shutil.copytree(model_dir / style, tmp_path / style)

    with pytest.raises(ModelDirError, match="loras/"):
        load_engine(str(tmp_path), device="cpu", styles=tiny_engine.styles)


def test_a_compiled_unet_keeps_switching_adapters_across_batches_of_different_styles(
    model_dir: Path, tiny_engine: Engine, loaded: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    # torch.compile with dynamo's graph capture and guards (aot_eager: the same capture as
    # inductor, without a C++ compiler's minutes on a CPU): each style's adapters must take
    # effect in the compiled UNet, batch after batch, as they do uncompiled.
    with caplog.at_level(logging.WARNING, logger="gpu_service.loading"):
        compiled = load_engine(
            str(model_dir),
            device="cpu",
            styles=tiny_engine.styles,
            compile_unet=True,
            compile_backend="aot_eager",
        )
    lossless = {k: replace(v, postprocess="none", encoding="png") for k, v in tiny_engine.styles.items()}
    compiled.styles, loaded.styles, original = lossless, lossless, loaded.styles
    try:
        order = ["pixel", "ghibli", "realistic", "pixel", "ghibli"]
        jobs = [
            make_job(style=style, seed=5, negative_prompt="birds" if n == 2 else "")
            for n, style in enumerate(order)
        ]
        drawn = [pixels(compiled.generate(job).data) for job in jobs]
        eager = [pixels(loaded.generate(job).data) for job in jobs]
    finally:
        loaded.styles = original

    unet = compiled.pipeline_for("pixel").unet
    assert unet._compiled_call_impl is not None  # compiled in place: still the UNet itself
    for n, (fast, slow) in enumerate(zip(drawn, eager, strict=True)):
        assert np.abs(fast - slow).max() <= 1, order[n]
    assert np.abs(drawn[0] - drawn[1]).max() > 1  # pixel and ghibli really differ
    assert any("compiling the UNet" in r.getMessage() for r in caplog.records)
