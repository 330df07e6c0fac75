"""The models folder (or bucket prefix): what the preparation command writes and the loader
reads. Pure: names only.

    manifest.json                    what was prepared: repositories, resolved commits, files
    <style>/model_index.json         a complete diffusers StableDiffusionXLPipeline folder per style
    <style>/unet/  text_encoder/  text_encoder_2/  tokenizer/  tokenizer_2/  scheduler/  vae/
    safety/safety_checker/  safety/feature_extractor/   (optional: the standalone safety checker)
    loras/<name>/<weights>.safetensors               LoRAs by adapter name (lightning-4, pixel-art, ...)

Each style folder stands alone (diffusers can load it as it is); the loader shares whatever is
byte-identical between them (the VAE, the text encoders and tokenizers, the UNet of two styles
that are LoRAs on one base) in memory.
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
    "text_encoder_2": ("config.json", "model.safetensors"),
    # A CLIP tokenizer as vocab.json + merges.txt (the SD 1.5 repositories) or as tokenizer.json
    # (what transformers 5 saves); either loads.
    "tokenizer": (
        "merges.txt",
        "special_tokens_map.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "vocab.json",
    ),
    "tokenizer_2": (
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
REQUIRED_COMPONENTS = (
    "unet",
    "vae",
    "text_encoder",
    "text_encoder_2",
    "tokenizer",
    "tokenizer_2",
    "scheduler",
)
TOKENIZERS = ("tokenizer", "tokenizer_2")
SAFETY_COMPONENTS = ("safety_checker", "feature_extractor")
SAFETY = "safety"
# Components whose weights are worth de-duplicating and converting (the rest is a few KiB).
WEIGHTS_SUFFIX = ".safetensors"


def variant_name(name: str, variant: str | None) -> str:
    """diffusers' name of a weights file's variant: model.safetensors -> model.fp16.safetensors."""
    if variant is None or not name.endswith(WEIGHTS_SUFFIX):
        return name
    return f"{name.removesuffix(WEIGHTS_SUFFIX)}.{variant}{WEIGHTS_SUFFIX}"


def style_dir(style_id: str) -> PurePosixPath:
    return PurePosixPath(style_id)


def safety_dir() -> PurePosixPath:
    return PurePosixPath(SAFETY)


def lora_dir(name: str) -> PurePosixPath:
    return PurePosixPath(LORAS) / name


def file_sha256(path: Path) -> str:
    """The checksum the manifest records for each file, read in chunks (weights are GBs)."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()
