"""Loading every style's pipeline: from a models folder, a gs:// models prefix, or, with no
models at all, the tiny random pipeline. One function, `load_engine`, for all three.

What is byte-identical between style folders (the VAE, the tokenizers, the text encoders when a
fine-tune left them alone, the whole UNet of two styles that are LoRAs on one base) is loaded
once and shared: one copy in GPU memory. Byte identity comes from the manifest's SHA-256 sums
(written by prepare_models) or, for a folder without one, from hashing the files. LoRAs stay
adapters, switched per batch (engine.Engine._switch_adapters); the safety checker is loaded
once, standalone (gpu_service/safety.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from diffusers import StableDiffusionXLPipeline
from diffusers.models.attention_processor import AttnProcessor2_0
from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
from transformers import CLIPImageProcessor

from gpu_service import layout, logs
from gpu_service.engine import TINY_SIZE, TINY_STEPS, Engine
from gpu_service.safety import ClipSafetyChecker, MarkedPromptChecker, SafetyCheck
from gpu_service.styles import STYLES_BY_ID, Style, loras_for
from gpu_service.tiny_pipeline import add_tiny_lora, build_tiny_pipeline, build_tiny_safety_checker

log = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = "/tmp/models"
# torch.compile guards on the LoRA layers' active adapters and scales, so each adapter set a
# compiled UNet runs with is compiled once, at warm-up. Three styles' sets of adapters, times
# the shapes, exceed dynamo's default of 8 compiled versions per function.
COMPILED_VERSIONS = 256


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
    step_progress: bool = False,
    compile_backend: str = "inductor",
    warm_up: bool = True,
    tiny_flag_word: str | None = None,
) -> Engine:
    """Every style's pipeline from `models` (a folder, or a gs:// prefix copied to `cache_dir`),
    or, with no `models`, one tiny random-weight pipeline shared by all styles."""
    logs.route_library_logs()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    # Half precision halves memory and doubles speed on a GPU; CPUs have no fast fp16 kernels.
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    styles = dict(styles or STYLES_BY_ID)
    started = time.perf_counter()
    safety: SafetyCheck | None = None
    if models is None:
        log.warning(
            "NO MODEL WEIGHTS CONFIGURED: TINY RANDOM SDXL PIPELINE, the pictures are noise "
            "(set MODEL_DIR to a folder prepared by `make models` for real ones)"
        )
        styles = {
            style_id: style.scaled(size=TINY_SIZE, steps=TINY_STEPS) for style_id, style in styles.items()
        }
        if device == "cpu":
            # The tiny model's operations are microseconds of work: with several threads, the
            # threads' synchronisation costs more than the work, and on a shared CPU spinning
            # threads make a call ten times slower (0.8 s with one thread against 13 s with two,
            # measured on a loaded two-core machine).
            torch.set_num_threads(1)
        tiny = build_tiny_pipeline()
        if dtype != torch.float32:
            tiny = tiny.to(dtype=dtype)
        style_loras = {style.lora.name for style in styles.values() if style.lora is not None}
        for seed, name in enumerate(sorted(loras_for(styles.values()))):
            # Style LoRAs carry text-encoder weights too, as most published ones do.
            add_tiny_lora(tiny, name, seed=seed + 1, text_encoders=name in style_loras)
        pipelines = {style_id: tiny for style_id in styles}
        if tiny_flag_word:
            checker, extractor = build_tiny_safety_checker()
            safety = MarkedPromptChecker(ClipSafetyChecker(checker, extractor, device=device), tiny_flag_word)
            log.warning(
                "tiny safety checker: pictures of prompts with the word %r are flagged", tiny_flag_word
            )
        log.warning(
            "tiny SDXL pipeline: pictures are coloured noise, %dx%d in %d steps",
            TINY_SIZE,
            TINY_SIZE,
            TINY_STEPS,
        )
    else:
        if models.startswith("gs://"):
            from gpu_service.model_store import download_models

            folder = download_models(models, Path(cache_dir or DEFAULT_CACHE_DIR), client=storage_client)
        else:
            folder = Path(models)
        pipelines = _load_folder(folder, styles, dtype)
        _load_loras(folder, pipelines, styles)
        safety = _load_safety_checker(folder, dtype, device)
    _place(pipelines, device, compile_unet=compile_unet, compile_backend=compile_backend)
    log.info(
        "engine loaded",
        extra={
            "device": device,
            "duration_ms": round((time.perf_counter() - started) * 1000),
            "unets": len({id(p.unet) for p in pipelines.values()}),
            "text_encoders": len({id(p.text_encoder_2) for p in pipelines.values()}),
            "vaes": len({id(p.vae) for p in pipelines.values()}),
        },
    )
    return Engine(
        pipelines,
        styles,
        device=device,
        tiny=models is None,
        safety=safety,
        warm_up_batch=warm_up_batch,
        step_progress=step_progress,
        warm_up=warm_up,
    )


def _load_folder(
    root: Path, styles: Mapping[str, Style], dtype: torch.dtype
) -> dict[str, StableDiffusionXLPipeline]:
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
            for component in layout.REQUIRED_COMPONENTS
            # The scheduler is a small config, not weights; each pipeline keeps its own.
            if component != "scheduler"
        }
        given = {
            component: loaded[(component, fp)]
            for component, fp in prints.items()
            if (component, fp) in loaded
        }
        log.info(
            "loading %s (shared: %s)",
            folder,
            ", ".join(sorted(given)) or "nothing",
            extra={"style": style.id},
        )
        # local_files_only: a missing file must fail here, not start a download from the Hub.
        # use_safetensors: weights only from safetensors files, never from pickles.
        pipeline = StableDiffusionXLPipeline.from_pretrained(
            folder, dtype=dtype, local_files_only=True, use_safetensors=True, add_watermarker=False, **given
        )
        for component, fp in prints.items():
            loaded.setdefault((component, fp), getattr(pipeline, component))
        pipelines[style.id] = pipeline
    return pipelines


def _load_loras(
    root: Path, pipelines: Mapping[str, StableDiffusionXLPipeline], styles: Mapping[str, Style]
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


def _load_safety_checker(root: Path, dtype: torch.dtype, device: str) -> SafetyCheck | None:
    folder = root / layout.safety_dir()
    if not all((folder / component).is_dir() for component in layout.SAFETY_COMPONENTS):
        log.warning("no safety checker in %s: pictures are not checked", folder)
        return None
    checker = StableDiffusionSafetyChecker.from_pretrained(
        folder / "safety_checker", dtype=dtype, local_files_only=True, use_safetensors=True
    )
    extractor = CLIPImageProcessor.from_pretrained(folder / "feature_extractor")
    return ClipSafetyChecker(checker.eval(), extractor, device=device)


def _place(
    pipelines: Mapping[str, StableDiffusionXLPipeline],
    device: str,
    *,
    compile_unet: bool,
    compile_backend: str = "inductor",
) -> None:
    cuda = device.startswith("cuda")
    if cuda:
        # TF32 for whatever still runs in fp32 (Ampere and later; the L4 is Ada).
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    compiled: set[int] = set()
    for pipeline in pipelines.values():
        pipeline.to(device)  # in its dtype already: from_pretrained(dtype=...) or the cast above
        # PyTorch's fused scaled-dot-product attention (flash / memory-efficient kernels on a GPU).
        pipeline.unet.set_attn_processor(AttnProcessor2_0())
        pipeline.vae.set_attn_processor(AttnProcessor2_0())
        if cuda:
            # NHWC is what tensor cores want for convolutions.
            pipeline.unet.to(memory_format=torch.channels_last)
            pipeline.vae.to(memory_format=torch.channels_last)
        if compile_unet and id(pipeline.unet) not in compiled:
            compiled.add(id(pipeline.unet))
            log.warning("compiling the UNet: the first batch of each shape and adapter set takes minutes")
            torch._dynamo.config.cache_size_limit = max(
                torch._dynamo.config.cache_size_limit, COMPILED_VERSIONS
            )
            # In place (nn.Module.compile), not torch.compile(unet): the pipeline keeps the UNet
            # itself, so diffusers' set_adapters, enable_lora and disable_lora still reach its
            # LoRA layers; switching adapters recompiles once per set (at warm-up), not per batch.
            mode = "max-autotune-no-cudagraphs" if cuda and compile_backend == "inductor" else None
            pipeline.unet.compile(backend=compile_backend, mode=mode)


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
