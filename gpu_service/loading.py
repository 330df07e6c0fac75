"""Loading every style's pipeline: from a models folder, a gs:// models prefix, or, with no
models at all, the tiny random pipeline. One function, `load_engine`, for all three.

What is byte-identical between style folders (the VAE, usually the tokenizer and the safety
checker; the text encoder when a fine-tune left it alone) is loaded once and shared: one copy
in GPU memory. Byte identity comes from the manifest's SHA-256 sums (written by
prepare_models) or, for a folder without one, from hashing the files.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from diffusers import StableDiffusionPipeline
from diffusers.models.attention_processor import AttnProcessor2_0
from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
from transformers import CLIPImageProcessor

from gpu_service import layout, logs
from gpu_service.engine import TINY_ECONOMY_SIZE, TINY_SIZE, TINY_STEPS, Adapters, Engine
from gpu_service.styles import STYLES_BY_ID, Style, loras_for
from gpu_service.tiny_pipeline import add_tiny_lora, build_tiny_pipeline

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = "/tmp/models"


class ModelDirError(RuntimeError):
    """The models folder does not hold a loadable pipeline for every style."""


def load_engine(
    models: str | None,
    *,
    device: str | None = None,
    styles: Mapping[str, Style] | None = None,
    cache_dir: str | None = None,
    compile_unet: bool = False,
    warm_up_batch: int = 1,
    storage_client: Any = None,
) -> Engine:
    """Every style's pipeline from `models` (a folder, or a gs:// prefix copied to `cache_dir`),
    or, with no `models`, one tiny random-weight pipeline shared by all styles."""
    logs.route_library_logs()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    # Half precision halves memory and doubles speed on a GPU; CPUs have no fast fp16 kernels.
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    styles = dict(styles or STYLES_BY_ID)
    started = time.perf_counter()
    if models is None:
        log.warning("no model weights configured: tiny random pipeline (set MODEL_DIR for real models)")
        styles = {
            style_id: style.scaled(size=TINY_SIZE, economy_size=TINY_ECONOMY_SIZE, steps=TINY_STEPS)
            for style_id, style in styles.items()
        }
        tiny = build_tiny_pipeline()
        if dtype != torch.float32:
            tiny = tiny.to(dtype=dtype)
        for seed, name in enumerate(sorted(loras_for(styles.values()))):
            add_tiny_lora(tiny.unet, name, seed=seed + 1)
        pipelines = {style_id: tiny for style_id in styles}
        log.warning(
            "tiny pipeline: pictures are coloured noise, %dx%d in %d steps", TINY_SIZE, TINY_SIZE, TINY_STEPS
        )
    else:
        if models.startswith("gs://"):
            from gpu_service.model_store import download_models

            folder = download_models(models, Path(cache_dir or DEFAULT_CACHE_DIR), client=storage_client)
        else:
            folder = Path(models)
        pipelines = _load_folder(folder, styles, dtype)
        _load_loras(folder, pipelines, styles)
    adapters = _settle_adapters(pipelines, styles)
    _place(pipelines, device, compile_unet=compile_unet)
    log.info(
        "engine loaded",
        extra={
            "device": device,
            "duration_ms": round((time.perf_counter() - started) * 1000),
            "unets": len({id(p.unet) for p in pipelines.values()}),
            "text_encoders": len({id(p.text_encoder) for p in pipelines.values()}),
            "vaes": len({id(p.vae) for p in pipelines.values()}),
        },
    )
    return Engine(
        pipelines, styles, device=device, tiny=models is None, adapters=adapters, warm_up_batch=warm_up_batch
    )


def _load_folder(
    root: Path, styles: Mapping[str, Style], dtype: torch.dtype
) -> dict[str, StableDiffusionPipeline]:
    manifest_sums = _manifest_sums(root)
    loaded: dict[tuple[str, str], Any] = {}  # (component, fingerprint) -> module or tokenizer
    pipelines = {}
    for style in styles.values():
        folder = root / layout.style_dir(style.id)
        if not (folder / layout.MODEL_INDEX).is_file():
            raise ModelDirError(
                f"{folder} is not a diffusers pipeline folder: it has no {layout.MODEL_INDEX}"
            )
        missing = [c for c in layout.REQUIRED_COMPONENTS if not (folder / c).is_dir()]
        if missing:
            raise ModelDirError(f"{folder} lacks the components {missing}")
        prints = {
            component: _fingerprint(root, folder / component, manifest_sums)
            for component in layout.COMPONENT_FILES
            # The scheduler is a small config, not weights; each pipeline keeps its own.
            if component != "scheduler" and (folder / component).is_dir()
        }
        if style.lora is not None:
            # A style LoRA may carry text-encoder weights too: its UNet and text encoder are
            # its own, so that switching its LoRA never touches another style's.
            for component in ("unet", "text_encoder"):
                prints[component] += f"+{style.lora.name}"
        given = {
            component: loaded[(component, fp)]
            for component, fp in prints.items()
            if (component, fp) in loaded
        }
        extra: dict[str, Any] = {}
        if all(component in prints for component in layout.SAFETY_COMPONENTS):
            # Loaded here rather than by the pipeline, which would skip them if the folder's
            # model_index.json names none (many fine-tunes ship with the checker switched off).
            given.setdefault(
                "safety_checker",
                StableDiffusionSafetyChecker.from_pretrained(
                    folder / "safety_checker", dtype=dtype, local_files_only=True, use_safetensors=True
                ),
            )
            given.setdefault(
                "feature_extractor", CLIPImageProcessor.from_pretrained(folder / "feature_extractor")
            )
        else:
            log.warning(
                "no safety checker in %s: pictures are not checked", folder, extra={"style": style.id}
            )
            given.update(safety_checker=None, feature_extractor=None)
            extra["requires_safety_checker"] = False
        log.info(
            "loading %s (shared: %s)",
            folder,
            ", ".join(sorted(given)) or "nothing",
            extra={"style": style.id},
        )
        # local_files_only: a missing file must fail here, not start a download from the Hub.
        # use_safetensors: weights only from safetensors files, never from pickles.
        pipeline = StableDiffusionPipeline.from_pretrained(
            folder, dtype=dtype, local_files_only=True, use_safetensors=True, **given, **extra
        )
        pipeline.set_progress_bar_config(disable=True)
        for component, fp in prints.items():
            loaded.setdefault((component, fp), getattr(pipeline, component))
        pipelines[style.id] = pipeline
    return pipelines


def _load_loras(
    root: Path, pipelines: Mapping[str, StableDiffusionPipeline], styles: Mapping[str, Style]
) -> None:
    """Each LoRA a style's plans use, once per UNet (styles that share a UNet share its adapters)."""
    done: set[tuple[int, str]] = set()
    for style in styles.values():
        pipeline = pipelines[style.id]
        for name, lora in loras_for([style]).items():
            if (id(pipeline.unet), name) in done:
                continue
            done.add((id(pipeline.unet), name))
            folder = root / layout.lora_dir(name)
            weights = sorted(folder.glob(f"*{layout.WEIGHTS_SUFFIX}"))
            if len(weights) != 1:
                raise ModelDirError(f"{folder} should hold one LoRA safetensors file, found {len(weights)}")
            log.info("loading LoRA %s from %s", name, lora.source.repo, extra={"style": style.id})
            with warnings.catch_warnings():
                # peft warns that a second adapter on one model is unusual; here it is the point.
                warnings.filterwarnings("ignore", message="Already found a `peft_config`")
                pipeline.load_lora_weights(str(folder), weight_name=weights[0].name, adapter_name=name)


def _settle_adapters(
    pipelines: Mapping[str, StableDiffusionPipeline], styles: Mapping[str, Style]
) -> dict[str, Adapters]:
    """Fuse the LoRAs of every UNet whose plans all want the same ones; keep the rest switchable.
    Styles that share a UNet share one Adapters record."""
    wanted: dict[int, set[tuple[tuple[str, float], ...]]] = defaultdict(set)
    owner: dict[int, StableDiffusionPipeline] = {}
    for style in styles.values():
        pipeline = pipelines[style.id]
        owner.setdefault(id(pipeline.unet), pipeline)
        for plan in style.plans():
            wanted[id(pipeline.unet)].add(plan.adapters)
    by_unet = {}
    for unet_id, sets in wanted.items():
        pipeline = owner[unet_id]
        if len(sets) == 1:
            (only,) = sets
            if only:
                names = [name for name, _ in only]
                pipeline.set_adapters(names, [scale for _, scale in only])
                pipeline.fuse_lora(adapter_names=names)
                # Fused weights stay; the adapters' own matrices go (memory, and per-step work).
                pipeline.unload_lora_weights()
            by_unet[unet_id] = Adapters(fused=only)
            log.info("LoRAs fused: %s", ", ".join(name for name, _ in only) or "none")
        else:
            by_unet[unet_id] = Adapters()
            log.info("LoRAs switched per batch: %d combinations", len(sets))
    return {style_id: by_unet[id(pipeline.unet)] for style_id, pipeline in pipelines.items()}


def _place(pipelines: Mapping[str, StableDiffusionPipeline], device: str, *, compile_unet: bool) -> None:
    cuda = device.startswith("cuda")
    if cuda:
        # TF32 for whatever still runs in fp32 (Ampere and later; the L4 is Ada).
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    compiled: dict[int, Any] = {}
    for pipeline in pipelines.values():
        pipeline.to(device)  # in its dtype already: from_pretrained(dtype=...) or the cast above
        # PyTorch's fused scaled-dot-product attention (flash / memory-efficient kernels on a GPU).
        pipeline.unet.set_attn_processor(AttnProcessor2_0())
        pipeline.vae.set_attn_processor(AttnProcessor2_0())
        if cuda:
            # NHWC is what tensor cores want for convolutions: a few per cent on SD's UNet.
            pipeline.unet.to(memory_format=torch.channels_last)
            pipeline.vae.to(memory_format=torch.channels_last)
        if compile_unet:
            unet = pipeline.unet
            if id(unet) not in compiled:
                log.warning("compiling the UNet: the first batch of each shape takes minutes")
                compiled[id(unet)] = torch.compile(unet, mode="max-autotune-no-cudagraphs" if cuda else None)
            pipeline.unet = compiled[id(unet)]


def _manifest_sums(root: Path) -> dict[str, str]:
    manifest = root / layout.MANIFEST
    if not manifest.is_file():
        return {}
    files = json.loads(manifest.read_text()).get("files", {})
    return {path: entry["sha256"] for path, entry in files.items()}


def _fingerprint(root: Path, component_dir: Path, manifest_sums: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(component_dir.iterdir()):
        if path.is_file():
            relative = path.relative_to(root).as_posix()
            digest.update(f"{path.name}:{manifest_sums.get(relative) or layout.file_sha256(path)}\n".encode())
    return digest.hexdigest()
