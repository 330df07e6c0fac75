"""The styles' Hub repositories, filled with tiny random models: what the fake Hub serves.

Repository names and pinned commits are the real ones from gpu_service/styles.py, so the
preparation command runs exactly as an operator runs it, only against tiny files.
"""

from __future__ import annotations

from pathlib import Path

from gpu_service.styles import LCM_LORA, SAFETY_CHECKER, SD_VAE_FT_MSE, STYLES_BY_ID, ModelSource
from gpu_service.tiny_pipeline import build_tiny_pipeline, build_tiny_safety_checker, save_tiny_lora
from tests.support.fake_hub import FakeRepo, commit_for

# Files a real model repository also holds, which preparation must never download.
JUNK = {
    "v1-5-pruned.ckpt": b"pickle, not for us",
    "unet/diffusion_pytorch_model.bin": b"pickle, not for us",
    "unet/diffusion_pytorch_model.fp16.safetensors": b"a variant we do not take",
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
        build_tiny_pipeline(seed=seed).save_pretrained(folder)
        repos[style.model.repo] = FakeRepo(_commit(style.model), dict(JUNK)).add_folder(folder)
    checker, extractor = build_tiny_safety_checker()
    safety = repos.setdefault(SAFETY_CHECKER.repo, FakeRepo(_commit(SAFETY_CHECKER), dict(JUNK)))
    checker.save_pretrained(work / "safety")
    extractor.save_pretrained(work / "extractor")
    safety.add_folder(work / "safety", "safety_checker/").add_folder(work / "extractor", "feature_extractor/")
    build_tiny_pipeline(seed=7).vae.save_pretrained(work / "vae")
    repos[SD_VAE_FT_MSE.repo] = FakeRepo(_commit(SD_VAE_FT_MSE)).add_folder(work / "vae")
    for seed, lora in enumerate([LCM_LORA, *(s.lora for s in STYLES_BY_ID.values() if s.lora)]):
        assert lora is not None and lora.source.weight_name is not None
        save_tiny_lora(work / f"lora-{lora.name}", lora.name, lora.source.weight_name, seed=seed + 1)
        repos[lora.source.repo] = FakeRepo(_commit(lora.source), {"README.md": b"# a LoRA"}).add_folder(
            work / f"lora-{lora.name}"
        )
    return repos
