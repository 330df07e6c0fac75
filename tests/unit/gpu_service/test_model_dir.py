"""Loading real weights: a MODEL_DIR in diffusers layout, one pipeline folder per style.

The tiny pipeline is saved with `save_pretrained` and loaded back through the same loader
that loads the real models in the cloud.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gpu_service.contract import STYLES
from gpu_service.engine import Engine, ModelDirError, load_engine
from gpu_service.tiny_pipeline import build_tiny_pipeline

from .conftest import make_job


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    pipeline = build_tiny_pipeline()
    for style in STYLES:
        pipeline.save_pretrained(root / style)
    return root


def test_each_style_loads_from_its_own_folder(model_dir: Path, tiny_engine: Engine) -> None:
    engine = load_engine(model_dir, device="cpu", styles=tiny_engine.styles)

    assert not engine.tiny
    assert len({id(engine.pipeline_for(style)) for style in STYLES}) == len(STYLES)
    assert all(any(model_dir.glob(f"{style}/unet/*.safetensors")) for style in STYLES)


def test_loaded_weights_draw_what_the_saved_pipeline_draws(model_dir: Path, tiny_engine: Engine) -> None:
    engine = load_engine(model_dir, device="cpu", styles=tiny_engine.styles)
    job = make_job(style="realistic", seed=321)

    assert engine.generate(job).png == tiny_engine.generate(job).png


def test_a_missing_style_folder_is_named(tmp_path: Path) -> None:
    build_tiny_pipeline().save_pretrained(tmp_path / "ghibli")

    with pytest.raises(ModelDirError, match="realistic"):
        load_engine(tmp_path, device="cpu")
