"""Loading real weights: a models folder in diffusers layout (gpu_service/layout.py), one
pipeline folder per style plus LoRAs, through the same loader the cloud uses.

The folders are tiny pipelines saved with `save_pretrained`; gs:// loading and the folder the
preparation command writes are tested in tests/integration/gpu_service.
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
from gpu_service.tiny_pipeline import (
    build_tiny_pipeline,
    build_tiny_safety_checker,
    build_tiny_unet,
    save_tiny_lora,
)

from .conftest import make_job, pixels


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ghibli and realistic: the same text encoder, VAE and tokenizer, different UNets (as two
    fine-tunes of one base); pixel: the ghibli weights plus its LoRA. LoRAs as the tiny engine
    makes them in code (same seeds), so both draw the same pictures."""
    root = tmp_path_factory.mktemp("models")
    base = build_tiny_pipeline(seed=0)
    base.save_pretrained(root / "ghibli")
    base.save_pretrained(root / "pixel")
    torch.manual_seed(1)
    other = build_tiny_pipeline(seed=0)
    other.unet = build_tiny_unet()
    other.save_pretrained(root / "realistic")
    save_tiny_lora(root / "loras/lcm", "lcm", "pytorch_lora_weights.safetensors", seed=1)
    save_tiny_lora(root / "loras/pixel-art", "pixel-art", "pixel.safetensors", seed=2)
    return root


@pytest.fixture(scope="module")
def loaded(model_dir: Path, tiny_engine: Engine) -> Engine:
    return load_engine(str(model_dir), device="cpu", styles=tiny_engine.styles)


def test_each_style_loads_from_its_folder_and_byte_identical_parts_are_shared(loaded: Engine) -> None:
    ghibli, realistic, pixel = (loaded.pipeline_for(style) for style in STYLES)

    assert not loaded.tiny
    assert len({id(p.unet) for p in (ghibli, realistic, pixel)}) == 3
    assert ghibli.vae is realistic.vae is pixel.vae
    assert ghibli.tokenizer is realistic.tokenizer is pixel.tokenizer
    assert ghibli.text_encoder is realistic.text_encoder
    # A style with its own LoRA keeps its own text encoder: switching its LoRA on must never
    # touch another style's.
    assert pixel.text_encoder is not ghibli.text_encoder
    assert ghibli.safety_checker is None  # none in these folders


def test_loras_are_fused_when_every_plan_of_a_unet_wants_the_same_ones(loaded: Engine) -> None:
    assert {style: loaded.adapters[style].fused for style in STYLES} == {
        "ghibli": (("lcm", 1.0),),
        "realistic": (("lcm", 1.0),),
        "pixel": (("pixel-art", 1.0), ("lcm", 1.0)),
    }
    # Fused into the weights, the adapters themselves are gone: no extra work per step.
    assert not any("lora" in name for name, _ in loaded.pipeline_for("pixel").unet.named_modules())


def test_loaded_weights_draw_what_the_in_code_pipeline_draws(loaded: Engine, tiny_engine: Engine) -> None:
    lossless = {k: replace(v, postprocess="none", encoding="png") for k, v in tiny_engine.styles.items()}
    loaded.styles, original = lossless, loaded.styles
    in_code = Engine(
        {s: tiny_engine.pipeline_for(s) for s in STYLES},
        lossless,
        device="cpu",
        adapters=tiny_engine.adapters,
    )
    try:
        for style in ("ghibli", "pixel"):
            job = make_job(style=style, seed=321)
            # Fused adapters (loaded) and switched ones (in code) agree but for float rounding.
            difference = np.abs(pixels(loaded.generate(job).data) - pixels(in_code.generate(job).data))
            assert difference.max() <= 1, style
    finally:
        loaded.styles = original


def test_realistic_differs_from_ghibli_by_its_own_unet(loaded: Engine) -> None:
    job = make_job(seed=8)

    assert loaded.generate(job).data != loaded.generate(replace(job, style="realistic")).data


def test_a_safety_checker_in_the_folders_is_loaded_shared_and_obeyed(
    model_dir: Path, tiny_engine: Engine, tmp_path: Path
) -> None:
    for style in STYLES:
        shutil.copytree(model_dir / style, tmp_path / style)
        checker, extractor = build_tiny_safety_checker(flag_all=True)
        checker.save_pretrained(tmp_path / style / "safety_checker")
        extractor.save_pretrained(tmp_path / style / "feature_extractor")
    shutil.copytree(model_dir / "loras", tmp_path / "loras")

    engine = load_engine(str(tmp_path), device="cpu", styles=tiny_engine.styles)

    checkers = {id(engine.pipeline_for(style).safety_checker) for style in STYLES}
    assert len(checkers) == 1 and engine.pipeline_for("ghibli").safety_checker is not None
    with pytest.raises(UnsafeOutput):
        engine.generate(make_job(style="realistic"))


def test_a_missing_style_folder_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    build_tiny_pipeline().save_pretrained(tmp_path / "ghibli")

    with pytest.raises(ModelDirError, match="realistic"):
        load_engine(str(tmp_path), device="cpu")


def test_a_missing_lora_is_named(model_dir: Path, tiny_engine: Engine, tmp_path: Path) -> None:
    for style in STYLES:
        shutil.copytree(model_dir / style, tmp_path / style)

    with pytest.raises(ModelDirError, match="loras/lcm"):
        load_engine(str(tmp_path), device="cpu", styles=tiny_engine.styles)


def test_torch_compile_wraps_each_distinct_unet_once(
    model_dir: Path, tiny_engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="gpu_service.loading"):
        engine = load_engine(str(model_dir), device="cpu", styles=tiny_engine.styles, compile_unet=True)

    unets = [engine.pipeline_for(style).unet for style in STYLES]
    assert all(isinstance(unet, torch._dynamo.eval_frame.OptimizedModule) for unet in unets)
    assert len({id(unet) for unet in unets}) == 3
    assert any("compiling the UNet" in r.getMessage() for r in caplog.records)
