"""The styles' Hub repositories, filled with tiny random models: what the fake Hub serves.

Repository names, file names and pinned commits are the real ones from gpu_service/styles.py,
so the preparation command runs exactly as an operator runs it, only against tiny files.
"""

from __future__ import annotations

from pathlib import Path

from gpu_service.styles import SAFETY_CHECKER, STYLES_BY_ID, ModelSource, loras_for
from gpu_service.tiny_pipeline import build_tiny_pipeline, build_tiny_safety_checker, save_tiny_lora
from tests.support.fake_hub import FakeRepo, commit_for

# Files a real model repository also holds, which preparation must never download.
JUNK = {
    "sd_xl_base_1.0.safetensors": b"a single-file checkpoint, not for us",
    "unet/diffusion_pytorch_model.bin": b"pickle, not for us",
    "unet/diffusion_pytorch_model.safetensors": b"the fp32 weights: the fp16 variant is taken",
    "README.md": b"# a model card",
}


def _commit(source: ModelSource) -> str:
    return source.revision if source.pinned else commit_for(source.repo)


def hub_repos(work: Path) -> dict[str, FakeRepo]:
    repos: dict[str, FakeRepo] = {}
    for seed, style in enumerate(STYLES_BY_ID.values()):
        if style.model.repo in repos:
            continue
        folder = work / f"model-{seed}"
        # A different seed per model: different UNets and text encoders, as fine-tunes have.
        # Saved as the fp16 variant's file names, as SDXL repositories hold them.
        build_tiny_pipeline(seed=seed).save_pretrained(folder, variant=style.model.variant)
        repos[style.model.repo] = FakeRepo(_commit(style.model), dict(JUNK)).add_folder(folder)
    checker, extractor = build_tiny_safety_checker()
    safety = repos.setdefault(SAFETY_CHECKER.repo, FakeRepo(_commit(SAFETY_CHECKER), dict(JUNK)))
    checker.save_pretrained(work / "safety")
    extractor.save_pretrained(work / "extractor")
    safety.add_folder(work / "safety", "safety_checker/").add_folder(work / "extractor", "feature_extractor/")
    vae = next(style.vae for style in STYLES_BY_ID.values() if style.vae is not None)
    build_tiny_pipeline(seed=7).vae.save_pretrained(work / "vae")
    repos[vae.repo] = FakeRepo(_commit(vae)).add_folder(work / "vae")
    style_loras = {style.lora.name for style in STYLES_BY_ID.values() if style.lora is not None}
    for seed, lora in enumerate(loras_for(STYLES_BY_ID.values()).values()):
        assert lora.source.weight_name is not None
        kohya = lora.name in style_loras  # style LoRAs ship in Kohya's format, with text-encoder keys
        folder = work / f"lora-{lora.name}"
        save_tiny_lora(folder, lora.name, lora.source.weight_name, seed + 1, text_encoders=kohya, kohya=kohya)
        repo = repos.setdefault(lora.source.repo, FakeRepo(_commit(lora.source), {"README.md": b"# a LoRA"}))
        repo.add_folder(folder)
    return repos
