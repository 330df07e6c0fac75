"""The diffusion engine: one pipeline per style, loaded once per process, called under a lock.

`load_engine` is the only way pipelines are made, for real weights and for the tiny CPU
pipeline alike, so tests exercise the same loading path as production.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import torch
from diffusers import StableDiffusionPipeline
from PIL import Image

from gpu_service import logs, postprocess
from gpu_service.contract import STYLES, GenerationJob
from gpu_service.images import GeneratedImage, encode_png
from gpu_service.styles import STYLES_BY_ID, Style
from gpu_service.tiny_pipeline import build_tiny_pipeline

log = logging.getLogger(__name__)

# The tiny pipeline's pictures are noise whatever their size: draw them small and in few steps
# so a CPU makes one in well under a second.
TINY_SIZE = 128
TINY_STEPS = 2
# Enough to run every kernel of a style's shapes once (CUDA context, cuDNN autotuning, allocator).
WARM_UP_STEPS = 2


class ModelDirError(RuntimeError):
    """MODEL_DIR does not hold a loadable pipeline for every style."""


class Engine:
    """Draws the picture of a job: style settings, seeded noise, pipeline, post-processing, PNG."""

    def __init__(
        self,
        pipelines: Mapping[str, StableDiffusionPipeline],
        styles: Mapping[str, Style],
        *,
        device: str,
        tiny: bool = False,
    ) -> None:
        missing = [style for style in STYLES if style not in pipelines or style not in styles]
        if missing:
            raise ValueError(f"no pipeline or settings for styles {missing}")
        self.styles = dict(styles)
        self.device = device
        self.tiny = tiny
        self._pipelines = dict(pipelines)
        # The HTTP server runs several threads, and a pipeline call is not reentrant: its
        # scheduler keeps per-call state (timesteps, step index). One GPU runs one batch at a
        # time anyway, so one lock for all styles costs nothing.
        self._lock = threading.Lock()

    def pipeline_for(self, style_id: str) -> StableDiffusionPipeline:
        return self._pipelines[style_id]

    def generate(self, job: GenerationJob) -> GeneratedImage:
        style = self.styles[job.style]
        width, height = style.size_for(job.aspect)
        image, seconds = self._draw(
            style,
            prompt=style.prompt_for(job.prompt),
            negative_prompt=style.negative_prompt_for(job.negative_prompt),
            steps=style.steps,
            width=width,
            height=height,
            seed=job.seed,
        )
        image = postprocess.apply(style.postprocess, image)
        log.info(
            "image generated",
            extra={
                "style": style.id,
                "steps": style.steps,
                "width": image.width,
                "height": image.height,
                "duration_ms": round(seconds * 1000),
            },
        )
        return GeneratedImage(
            png=encode_png(image),
            width=image.width,
            height=image.height,
            style=style.id,
            seed=job.seed,
            steps=style.steps,
            seconds=seconds,
        )

    def warm_up(self) -> None:
        """One short generation per distinct pipeline, so the first job does not pay for it."""
        started = time.perf_counter()
        warmed: set[int] = set()
        for style in self.styles.values():
            pipeline = self._pipelines[style.id]
            if id(pipeline) in warmed:
                continue
            warmed.add(id(pipeline))
            self._draw(
                style,
                prompt=style.prompt_for("warm-up"),
                negative_prompt=style.negative_prompt,
                steps=min(WARM_UP_STEPS, style.steps),
                width=style.width,
                height=style.height,
                seed=0,
            )
        log.info("engine warm", extra={"duration_ms": round((time.perf_counter() - started) * 1000)})

    def _draw(
        self,
        style: Style,
        *,
        prompt: str,
        negative_prompt: str,
        steps: int,
        width: int,
        height: int,
        seed: int,
    ) -> tuple[Image.Image, float]:
        pipeline = self._pipelines[style.id]
        # A CPU generator draws the same starting noise on every device, so a seed means the
        # same composition on a laptop and on the GPU (bytes match only on the same device).
        generator = torch.Generator("cpu").manual_seed(seed)
        with self._lock:
            started = time.perf_counter()
            output = pipeline(
                prompt=prompt,
                negative_prompt=negative_prompt,
                num_inference_steps=steps,
                guidance_scale=style.guidance,
                width=width,
                height=height,
                generator=generator,
                output_type="pil",
            )
            seconds = time.perf_counter() - started
        if any(output.nsfw_content_detected or ()):
            # Only a model folder that ships a safety checker has one; it blacks the picture out.
            log.warning("the model's safety checker blanked the picture", extra={"style": style.id})
        return output.images[0], seconds


def load_engine(
    model_dir: Path | None,
    *,
    device: str | None = None,
    styles: Mapping[str, Style] = STYLES_BY_ID,
) -> Engine:
    """Every style's pipeline from `model_dir/<style>/` (diffusers layout), or, with no
    `model_dir`, one tiny random-weight pipeline shared by all styles."""
    logs.route_library_logs()
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    # Half precision halves memory and doubles speed on a GPU; CPUs have no fast fp16 kernels.
    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    started = time.perf_counter()
    if model_dir is None:
        log.warning("no model weights configured: tiny random pipeline (set MODEL_DIR for real models)")
        tiny = build_tiny_pipeline().to(device)
        if dtype != torch.float32:
            tiny = tiny.to(dtype=dtype)
        pipelines = {style_id: tiny for style_id in styles}
        styles = {
            style_id: style.scaled(size=TINY_SIZE, steps=TINY_STEPS) for style_id, style in styles.items()
        }
        log.warning(
            "tiny pipeline: pictures are coloured noise, %dx%d in %d steps", TINY_SIZE, TINY_SIZE, TINY_STEPS
        )
    else:
        pipelines = {style_id: _load_pipeline(model_dir / style_id, dtype).to(device) for style_id in styles}
    log.info(
        "engine loaded",
        extra={"device": device, "duration_ms": round((time.perf_counter() - started) * 1000)},
    )
    return Engine(pipelines, styles, device=device, tiny=model_dir is None)


def _load_pipeline(folder: Path, dtype: torch.dtype) -> StableDiffusionPipeline:
    if not (folder / "model_index.json").is_file():
        raise ModelDirError(f"{folder} is not a diffusers pipeline folder: it has no model_index.json")
    log.info("loading pipeline from %s", folder)
    # local_files_only: a missing file must fail here, not start a download from the Hub.
    # use_safetensors: weights only from safetensors files, never from pickles.
    pipeline = StableDiffusionPipeline.from_pretrained(
        folder, dtype=dtype, local_files_only=True, use_safetensors=True
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline
