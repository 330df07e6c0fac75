"""The models bucket end to end: prepare_models fetches the styles' repositories from a Hub
(a fake one over real HTTP, serving tiny models under the real names and commits), writes
them to a bucket of the Cloud Storage emulator, and the service loads them from gs://."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import storage

from gpu_service import layout, prepare_models
from gpu_service.contract import STYLES
from gpu_service.engine import Engine
from gpu_service.loading import load_engine
from gpu_service.model_store import ModelsBucketError, download_models
from gpu_service.styles import STYLES_BY_ID
from tests.support.fake_hub import FakeHub, serving
from tests.support.hub_models import JUNK, hub_repos
from tests.unit.gpu_service.conftest import make_job


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeHub, str]]:
    fake = FakeHub(hub_repos(tmp_path_factory.mktemp("hub-repos")))
    with serving(fake) as url:
        yield fake, url


@pytest.fixture(scope="module")
def models_bucket(storage_client: storage.Client) -> storage.Bucket:
    return storage_client.create_bucket(f"imagebot-models-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="module")
def prepared(
    hub: tuple[FakeHub, str],
    models_bucket: storage.Bucket,
    storage_client: storage.Client,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    _, url = hub
    uri = f"gs://{models_bucket.name}/2026-07-01"
    argv = ["--dest", uri, "--hub-endpoint", url, "--work-dir", str(tmp_path_factory.mktemp("prepare"))]
    assert prepare_models.main(argv, storage_client=storage_client) == 0
    return uri


def test_prepare_uploads_one_folder_per_style_loras_and_a_manifest(
    prepared: str, models_bucket: storage.Bucket, hub: tuple[FakeHub, str]
) -> None:
    fake, _ = hub
    names = {blob.name.removeprefix("2026-07-01/") for blob in models_bucket.list_blobs(prefix="2026-07-01/")}
    manifest = json.loads(models_bucket.blob("2026-07-01/manifest.json").download_as_bytes())

    for style in STYLES:
        assert {
            f"{style}/model_index.json",
            f"{style}/unet/diffusion_pytorch_model.safetensors",
            f"{style}/text_encoder_2/model.safetensors",
            f"{style}/tokenizer_2/tokenizer_config.json",
            f"{style}/vae/diffusion_pytorch_model.safetensors",
        } <= names
    assert {
        "safety/safety_checker/model.safetensors",
        "safety/feature_extractor/preprocessor_config.json",
    } <= names
    assert {
        "loras/lightning-4/sdxl_lightning_4step_lora.safetensors",
        "loras/lightning-2/sdxl_lightning_2step_lora.safetensors",
        "loras/lcm/pytorch_lora_weights.safetensors",
        "loras/ghibli/Studio Ghibli style.safetensors",
        "loras/pixel-art/pixel-art-xl.safetensors",
        "manifest.json",
    } <= names
    assert set(manifest["files"]) == names - {"manifest.json"}
    # Only the diffusers safetensors files of the fp16 variant were downloaded: no pickles,
    # no fp32 weights, no single-file checkpoints, no cards.
    assert not any(path.endswith(tuple(JUNK)) for path in fake.downloaded())
    assert any(path.endswith("unet/diffusion_pytorch_model.fp16.safetensors") for path in fake.downloaded())
    assert not any(name.endswith((".bin", ".fp16.safetensors", "README.md")) for name in names)
    # Each revision is recorded with the commit it resolved to.
    lightning = next(source for source in manifest["sources"] if source["role"] == "lora lightning-4")
    assert lightning["commit"] == lightning["revision"] == "c9a24f48e1c025556787b0c58dd67a091ece2e44"
    ghibli = next(source for source in manifest["sources"] if source["role"] == "lora ghibli")
    assert ghibli["revision"] == "main" and len(ghibli["commit"]) == 40
    assert manifest["dtype"] == "float16"
    index = json.loads(models_bucket.blob("2026-07-01/realistic/model_index.json").download_as_bytes())
    assert index["_class_name"] == "StableDiffusionXLPipeline" and "safety_checker" not in index


def test_preparing_again_uploads_nothing_new(
    prepared: str, hub: tuple[FakeHub, str], storage_client: storage.Client, tmp_path: Path
) -> None:
    _, url = hub
    staging = tmp_path / "staging"
    staging.mkdir()
    prepare_models.prepare(list(STYLES_BY_ID.values()), staging, prepare_models.Hub(tmp_path / "cache", url))

    written = prepare_models.publish(staging, prepared, storage_client=storage_client)

    assert set(written) <= {layout.MANIFEST}  # at most the manifest, for its new timestamp


def test_the_service_loads_the_styles_from_the_gs_prefix_and_draws(
    prepared: str, storage_client: storage.Client, tiny_engine: Engine, tmp_path: Path
) -> None:
    engine = load_engine(
        prepared,
        device="cpu",
        styles=tiny_engine.styles,
        cache_dir=str(tmp_path),
        storage_client=storage_client,
    )

    assert (tmp_path / "manifest.json").is_file() and (tmp_path / "pixel/unet/config.json").is_file()
    assert not engine.tiny
    assert len({id(engine.pipeline_for(style).vae) for style in STYLES}) == 1  # one VAE for all
    assert engine.pipeline_for("ghibli").unet is engine.pipeline_for("pixel").unet  # one base
    assert engine.safety is not None
    picture = engine.generate(make_job(style="pixel", mode="economy", negative_prompt="birds"))
    assert picture.encoding == "png" and picture.width >= 128 and not picture.negative_applied
    # Copied once: a second start with the same disk downloads nothing.
    before = (tmp_path / "ghibli/unet/diffusion_pytorch_model.safetensors").stat().st_mtime_ns
    download_models(prepared, tmp_path, client=storage_client)
    assert (tmp_path / "ghibli/unet/diffusion_pytorch_model.safetensors").stat().st_mtime_ns == before


def test_a_prefix_without_a_manifest_is_refused(
    models_bucket: storage.Bucket, storage_client: storage.Client, tmp_path: Path
) -> None:
    with pytest.raises(ModelsBucketError, match="manifest.json"):
        download_models(f"gs://{models_bucket.name}/nothing-here", tmp_path, client=storage_client)


def test_preparation_refuses_to_run_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    assert prepare_models.main(["--dest", "/tmp/unused"]) == 2
