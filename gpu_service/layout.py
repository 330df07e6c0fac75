"""The models folder (or bucket prefix): what the preparation command writes and the loader
reads. Pure: names only.

    manifest.json                    what was prepared: repositories, resolved commits, files
    <style>/model_index.json         a complete diffusers StableDiffusionPipeline folder per style
    <style>/unet/  text_encoder/  tokenizer/  scheduler/  vae/
    <style>/safety_checker/  feature_extractor/      (optional: the safety checker)
    loras/<name>/<weights>.safetensors               LoRAs by adapter name (lcm, pixel-art, ...)

Each style folder stands alone (diffusers can load it as it is); the loader shares whatever is
byte-identical between them (the VAE, usually the tokenizer and safety checker) in memory.
Only safetensors weights are written or read: a pickle can run code when it is loaded.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

MANIFEST = "manifest.json"
LORAS = "loras"
MODEL_INDEX = "model_index.json"

# The files of each pipeline component, as diffusers saves them (fp32 or fp16 alike).
COMPONENT_FILES: dict[str, tuple[str, ...]] = {
    "unet": ("config.json", "diffusion_pytorch_model.safetensors"),
    "vae": ("config.json", "diffusion_pytorch_model.safetensors"),
    "text_encoder": ("config.json", "model.safetensors"),
    # A CLIP tokenizer as vocab.json + merges.txt (the SD 1.5 repositories) or as tokenizer.json
    # (what transformers 5 saves); either loads.
    "tokenizer": (
        "merges.txt",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
    ),
    "scheduler": ("scheduler_config.json",),
    "safety_checker": ("config.json", "model.safetensors"),
    "feature_extractor": ("preprocessor_config.json",),
}
# What a style folder needs; the rest of COMPONENT_FILES is optional.
REQUIRED_COMPONENTS = ("unet", "vae", "text_encoder", "tokenizer", "scheduler")
SAFETY_COMPONENTS = ("safety_checker", "feature_extractor")
# Components whose weights are worth de-duplicating and converting (the rest is a few KiB).
WEIGHTS_SUFFIX = ".safetensors"


def component_patterns(components: tuple[str, ...]) -> list[str]:
    """Exact file names for `snapshot_download(allow_patterns=...)`: nothing else in a model
    repository (single-file checkpoints, pickles, fp16 or EMA variants, sample pictures) is
    fetched."""
    return [f"{component}/{name}" for component in components for name in COMPONENT_FILES[component]]


def style_dir(style_id: str) -> PurePosixPath:
    return PurePosixPath(style_id)


def lora_dir(name: str) -> PurePosixPath:
    return PurePosixPath(LORAS) / name


def file_sha256(path: Path) -> str:
    """The checksum the manifest records for each file, read in chunks (weights are GBs)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()
