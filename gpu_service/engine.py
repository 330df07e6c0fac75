"""The diffusion engine: every style's pipeline loaded once per process, called one batch at a time.

`load_engine` is the only way an engine is made, for real weights and for the tiny CPU pipeline
alike, so tests exercise the same loading path as production (gpu_service/loading.py).

A pipeline call draws a batch of jobs that share a plan (style, recipe, size: styles.Plan),
with one torch.Generator per job, so a job draws the same picture alone or in a batch. The
call stops at the latents (`draw_batch`, on the batcher's thread: the GPU's denoising loop and
nothing else); decoding, the broken-picture check, the safety checker, post-processing and
encoding happen in `Pending.finish`, on the job's own request thread, so the batcher starts
the next batch at once and the CPU work overlaps the GPU's.

A job with an input image (img2img) is drawn by an image-to-image pipeline built from the
same components as its style's text pipeline: the same UNet, VAE, text encoders and LoRA
adapters, no second copy of any weights. A grid job (candidates = GRID_SIZE) is that many
pictures of one plan, with seeds seed, seed + 1, ... in one call; `finish` checks each one and
makes the 2x2 collage.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from diffusers import StableDiffusionXLImg2ImgPipeline, StableDiffusionXLPipeline
from PIL import Image

from gpu_service import encoding, postprocess
from gpu_service.collage import collage
from gpu_service.contract import ASPECTS, MODES, STYLES, GenerationJob, candidate_seed
from gpu_service.images import GeneratedImage
from gpu_service.inputs import fit
from gpu_service.refusals import BrokenOutput, UnsafeOutput
from gpu_service.safety import SafetyCheck
from gpu_service.schedulers import make_scheduler
from gpu_service.styles import Plan, Style

log = logging.getLogger(__name__)

# The tiny pipeline's pictures are noise whatever their size: draw them small and in few steps
# so a CPU makes one in well under a second.
TINY_SIZE = 128
TINY_STEPS = 2
# Enough to run every kernel of a plan's shapes once (CUDA context, cuDNN autotuning, allocator,
# and with torch.compile the compilation of each shape and adapter set): one step.
WARM_UP_STEPS = 1
# A decoded picture whose brightest value is below this is "all black": a fp16 overflow in the
# VAE, or the pipeline's own blanking. Never sent; drawn once more with another seed.
BLACK_LEVEL = 2 / 255


def redraw_seed(seed: int) -> int:
    """The seed of the one redraw of a broken picture: another seed, the same for every replay
    of the job (a redelivered message redraws the same picture)."""
    return (seed * 2654435761 + 0x9E3779B9) % 2**32


def img2img_steps(steps: int, strength: float) -> int:
    """The num_inference_steps to ask of an img2img call for a plan of `steps`: diffusers runs
    int(num_inference_steps * strength) of them, which must be at least one. On the few-step
    recipes the ones run are then the last of the recipe's own (its distilled timesteps)."""
    wanted = max(steps, math.ceil(1 / strength))
    while int(wanted * strength) < 1:
        wanted += 1
    return wanted


def img2img_pipeline(text: StableDiffusionXLPipeline) -> StableDiffusionXLImg2ImgPipeline:
    """The image-to-image pipeline on the text pipeline's own modules (no copy)."""
    pipeline = StableDiffusionXLImg2ImgPipeline(**text.components, add_watermarker=False)
    return pipeline


def is_broken(pixels: np.ndarray) -> bool:
    """A decoded picture (floats in 0..1) that must not be sent: NaN anywhere, or all black."""
    return bool(np.isnan(pixels).any() or float(np.nanmax(pixels)) < BLACK_LEVEL)


@dataclass
class Pending:
    """One job's latents, drawn; `finish` decodes, checks and encodes them (raises on failure:
    refusals.UnsafeOutput for a flagged picture, BrokenOutput for one broken twice)."""

    engine: Engine
    plan: Plan
    job: GenerationJob
    latents: torch.Tensor  # one row per picture: job.candidates rows
    seconds: float
    batch_size: int
    seed: int  # of the first picture (candidate n has candidate_seed(seed, n))
    redrawn: bool = False
    init: Image.Image | None = None  # the input, fitted to the plan's size (img2img)

    def finish(self) -> GeneratedImage:
        return self.engine.finish(self)


class Engine:
    """Draws the pictures of a batch of jobs: plan, seeded noise, pipeline, checks, file."""

    def __init__(
        self,
        pipelines: Mapping[str, StableDiffusionXLPipeline],
        styles: Mapping[str, Style],
        *,
        device: str,
        tiny: bool = False,
        safety: SafetyCheck | None = None,
        warm_up_batch: int = 1,
        step_progress: bool = False,
        warm_up: bool = True,
    ) -> None:
        missing = [style for style in STYLES if style not in pipelines or style not in styles]
        if missing:
            raise ValueError(f"no pipeline or settings for styles {missing}")
        self.styles = dict(styles)
        self.device = device
        self.tiny = tiny
        self.safety = safety
        self.warm_up_batch = warm_up_batch
        self.warm_up_enabled = warm_up
        self._pipelines = dict(pipelines)
        # One image-to-image pipeline per text pipeline, on its very modules.
        by_id = {id(pipeline): pipeline for pipeline in self._pipelines.values()}
        self._img2img = {key: img2img_pipeline(pipeline) for key, pipeline in by_id.items()}
        # Each pipeline's scheduler config as loaded: every batch's scheduler is built from it,
        # never from the previous batch's scheduler (schedulers.make_scheduler).
        self._scheduler_configs = {
            id(pipeline): dict(pipeline.scheduler.config) for pipeline in self._pipelines.values()
        }
        for pipeline in [*self._pipelines.values(), *self._img2img.values()]:
            pipeline.set_progress_bar_config(disable=not step_progress, desc="steps", leave=False)
        # (pipeline, adapters) of the last batch: styles share UNets and text encoders, so the
        # adapters are set again whenever either changes.
        self._active: tuple[int, tuple[tuple[str, float], ...]] | None = None
        # Shapes drawn by warm_up (style, recipe, width, height), in order.
        self.warmed: list[Plan] = []
        # The GPU's work: the denoising loop, and each picture's decode and safety check, one at
        # a time. The GPU runs one stream of kernels anyway, so this costs no throughput, and
        # it bounds peak memory by the larger of a batch's denoising and one decode, not their
        # sum. Post-processing, encoding and upload (CPU work) run outside it, in parallel.
        self._lock = threading.Lock()

    def pipeline_for(self, style_id: str) -> StableDiffusionXLPipeline:
        return self._pipelines[style_id]

    def img2img_for(self, style_id: str) -> StableDiffusionXLImg2ImgPipeline:
        return self._img2img[id(self._pipelines[style_id])]

    def plan_for(self, job: GenerationJob) -> Plan:
        style = self.styles[job.style]
        strength = None
        if job.input_image:
            strength = job.strength if job.strength is not None else style.strength
        return style.plan(
            mode=job.mode, aspect=job.aspect, negative=bool(job.negative_prompt.strip()), strength=strength
        )

    def generate(self, job: GenerationJob, init: Image.Image | None = None) -> GeneratedImage:
        (result,) = self.generate_batch([job], [init])
        if isinstance(result, BaseException):
            raise result
        return result

    def generate_batch(
        self, jobs: Sequence[GenerationJob], inits: Sequence[Image.Image | None] | None = None
    ) -> list[GeneratedImage | Exception]:
        """draw_batch and each job's finish, in this thread: one result per job, in order."""
        results: list[GeneratedImage | Exception] = []
        for pending in self.draw_batch(jobs, inits):
            if isinstance(pending, Exception):
                results.append(pending)
                continue
            try:
                results.append(pending.finish())
            except Exception as error:  # noqa: BLE001  # this job's failure, not the batch's
                results.append(error)
        return results

    def draw_batch(
        self, jobs: Sequence[GenerationJob], inits: Sequence[Image.Image | None] | None = None
    ) -> list[Pending | Exception]:
        """The latents of a batch of jobs of one plan: one result per job, in order. `inits`:
        each job's input image (img2img jobs), in the same order.

        If the batched call fails, each job is drawn again on its own, so that one bad job (say,
        one that runs out of memory) fails alone.
        """
        plans = {self.plan_for(job) for job in jobs}
        if len(plans) != 1:
            raise ValueError(f"a batch needs jobs of one plan, got {len(plans)}")
        (plan,) = plans
        given = list(inits) if inits is not None else [None] * len(jobs)
        if len(given) != len(jobs) or any((init is None) != (plan.strength is None) for init in given):
            raise ValueError("an input image for each img2img job, and for no other")
        # The pipeline draws at its input's size: the plan's, whatever the photo's.
        fitted = [None if init is None else fit(init, plan.width, plan.height) for init in given]
        # A grid job is job.candidates pictures in the call, each with its own seed.
        rows = [
            (job, init, candidate_seed(job.seed, n))
            for job, init in zip(jobs, fitted, strict=True)
            for n in range(1, job.candidates + 1)
        ]
        try:
            latents, seconds = self._denoise(
                plan,
                [job for job, _, _ in rows],
                [seed for _, _, seed in rows],
                [init for _, init, _ in rows],
            )
        except Exception as error:
            if len(jobs) == 1:
                return [error]
            log.warning("batched call failed; drawing its %d jobs one by one", len(jobs), exc_info=True)
            return [self.draw_batch([job], [init])[0] for job, init in zip(jobs, given, strict=True)]
        log.info(
            "batch drawn",
            extra={
                "style": plan.style,
                "recipe": plan.recipe_name,
                "steps": plan.steps,
                "width": plan.width,
                "height": plan.height,
                "batch_size": len(rows),
                "duration_ms": round(seconds * 1000),
            },
        )
        pending: list[Pending | Exception] = []
        start = 0
        for job, init in zip(jobs, fitted, strict=True):
            stop = start + job.candidates
            pending.append(
                Pending(self, plan, job, latents[start:stop], seconds, len(rows), job.seed, init=init)
            )
            start = stop
        return pending

    def finish(self, pending: Pending) -> GeneratedImage:
        if pending.job.candidates == 1:
            picture, drawn = self._checked_picture(pending)
            return self._encoded(drawn, picture)
        return self._finish_grid(pending)

    def _finish_grid(self, pending: Pending) -> GeneratedImage:
        """Each candidate checked on its own: a flagged one is left out (None) and its tile
        blank, so the user still chooses among the others; all of them flagged is a flagged job."""
        candidates: list[GeneratedImage | None] = []
        tiles: list[Image.Image | None] = []
        for n in range(1, pending.job.candidates + 1):
            one = replace(pending, latents=pending.latents[n - 1 : n], seed=candidate_seed(pending.seed, n))
            try:
                picture, drawn = self._checked_picture(one)
            except UnsafeOutput:
                candidates.append(None)
                tiles.append(None)
                continue
            candidates.append(self._encoded(drawn, picture))
            tiles.append(picture)
        flagged = [n for n, candidate in enumerate(candidates, 1) if candidate is None]
        if len(flagged) == len(candidates):
            raise UnsafeOutput()
        if flagged:
            log.warning("candidates %s flagged; left blank", flagged, extra={"job_id": pending.job.job_id})
        return replace(self._encoded(pending, collage(tiles)), candidates=tuple(candidates))

    def _checked_picture(self, pending: Pending) -> tuple[Image.Image, Pending]:
        """One picture (one row of latents), decoded, checked and post-processed, with the
        Pending it came from (another seed's if it was broken and drawn again)."""
        plan, job = pending.plan, pending.job
        pixels = self._decode(plan.style, pending.latents)
        if is_broken(pixels):
            if pending.redrawn:
                log.error("the redrawn picture is broken too; refused", extra={"job_id": job.job_id})
                raise BrokenOutput()
            seed = redraw_seed(pending.seed)
            log.warning(
                "broken picture (NaN or all black); drawing it once more with seed %d",
                seed,
                extra={"job_id": job.job_id, "seed": seed},
            )
            latents, seconds = self._denoise(plan, [job], [seed], [pending.init])
            redrawn = replace(pending, latents=latents, seconds=seconds, seed=seed, redrawn=True)
            return self._checked_picture(redrawn)
        picture = _to_image(pixels[0])
        if self.safety is not None and self._flagged(self.safety, picture, job.prompt):
            log.warning("the safety checker flagged the picture; refused", extra={"job_id": job.job_id})
            raise UnsafeOutput()
        return postprocess.apply(self.styles[plan.style].postprocess, picture), pending

    def _encoded(self, pending: Pending, picture: Image.Image) -> GeneratedImage:
        plan, job = pending.plan, pending.job
        style = self.styles[plan.style]
        encoded = encoding.encode(picture, style.encoding)
        return GeneratedImage(
            data=encoded.data,
            encoding=encoded.encoding,
            width=encoded.width,
            height=encoded.height,
            style=style.id,
            seed=pending.seed,
            steps=plan.steps,
            seconds=pending.seconds,
            batch_size=pending.batch_size,
            negative_applied=plan.applies_negative and bool(job.negative_prompt.strip()),
        )

    def warm_up(self) -> None:
        """Every shape each style can serve (style x aspect x recipe), once, before /readyz
        turns 200: the first jobs pay for no CUDA kernel or compilation, and a batch that does
        not fit in memory fails here, not on a user's job.

        Each distinct tensor shape (a UNet's width x height, guided or not) runs at the batch
        size the batcher forms, the largest memory it will need; the other plans of that shape
        (other adapters, schedulers, step counts) at one picture, which is all their kernels
        and compiled graphs need. Each decoder size is decoded and checked once.
        """
        if not self.warm_up_enabled:
            log.warning("warm-up switched off (WARM_UP=false): each shape's first job pays for it")
            return
        started = time.perf_counter()
        seen: set[tuple[Any, ...]] = set()
        full: set[tuple[Any, ...]] = set()
        decoded: set[tuple[Any, ...]] = set()
        self.warmed = []
        for style in self.styles.values():
            pipeline = self._pipelines[style.id]
            for plan in style.plans():
                key = (id(pipeline), replace(plan, style=""))
                if key in seen:
                    continue
                seen.add(key)
                shape = (id(pipeline.unet), plan.width, plan.height, plan.applies_negative)
                batch = 1 if shape in full else self.warm_up_batch
                full.add(shape)
                jobs = [
                    GenerationJob(
                        job_id=f"warm-up-{n}",
                        chat_id=0,
                        prompt="warm-up",
                        style=style.id,
                        seed=n,
                        negative_prompt="warm-up" if plan.applies_negative else "",
                    )
                    for n in range(batch)
                ]
                latents, _ = self._denoise(
                    plan,
                    jobs,
                    [job.seed for job in jobs],
                    [None] * len(jobs),
                    steps=min(WARM_UP_STEPS, plan.steps),
                )
                if (id(pipeline.vae), plan.width, plan.height) not in decoded:
                    decoded.add((id(pipeline.vae), plan.width, plan.height))
                    picture = _to_image(self._decode(style.id, latents[:1])[0])
                    if self.safety is not None:
                        self._flagged(self.safety, picture, "warm-up")
                self.warmed.append(plan)
        photo_shapes = self._warm_up_img2img()
        log.info(
            "engine warm",
            extra={
                "duration_ms": round((time.perf_counter() - started) * 1000),
                "batch_size": self.warm_up_batch,
                "shapes": len(self.warmed) + photo_shapes,
            },
        )

    def _warm_up_img2img(self) -> int:
        """One img2img step per UNet and size, from a grey picture: the VAE encoder's kernels
        (the UNet's shapes are the text plans' own, warm already). Returns how many."""
        seen: set[tuple[int, int, int]] = set()
        for style in self.styles.values():
            pipeline = self._pipelines[style.id]
            for aspect in ASPECTS:
                plan = style.plan(mode=MODES[0], aspect=aspect, strength=style.strength)
                if (id(pipeline.unet), plan.width, plan.height) in seen:
                    continue
                seen.add((id(pipeline.unet), plan.width, plan.height))
                job = GenerationJob(
                    job_id="warm-up-photo", chat_id=0, prompt="warm-up", style=style.id, seed=0
                )
                grey = Image.new("RGB", (plan.width, plan.height), (128, 128, 128))
                self._denoise(plan, [job], [job.seed], [grey], steps=WARM_UP_STEPS)
        return len(seen)

    def _denoise(
        self,
        plan: Plan,
        jobs: Sequence[GenerationJob],
        seeds: Sequence[int],
        inits: Sequence[Image.Image | None],
        *,
        steps: int | None = None,
    ) -> tuple[torch.Tensor, float]:
        style = self.styles[plan.style]
        pipeline = self._pipelines[plan.style]
        steps = steps or plan.steps
        call: dict[str, Any] = {"width": plan.width, "height": plan.height}
        drawing: StableDiffusionXLPipeline | StableDiffusionXLImg2ImgPipeline = pipeline
        if plan.strength is not None:
            # img2img draws at its input's size, and runs a share of the steps it is asked for.
            drawing = self._img2img[id(pipeline)]
            call = {"image": list(inits), "strength": plan.strength}
            steps = img2img_steps(steps, plan.strength)
        # One generator per job, on the CPU: each job's starting noise depends on its own seed
        # only (not on its place in the batch), and is the same on every device.
        generators = [torch.Generator("cpu").manual_seed(seed) for seed in seeds]
        negative: dict[str, Any] = {}
        if plan.applies_negative:
            negative["negative_prompt"] = [style.negative_prompt_for(job.negative_prompt) for job in jobs]
        with self._lock:
            # The adapters live in the shared UNet and text encoders: switched through the
            # text pipeline, they act in the img2img one too.
            self._switch_adapters(pipeline, plan.adapters)
            drawing.scheduler = make_scheduler(
                plan.scheduler, self._scheduler_configs[id(pipeline)], timestep_spacing=plan.timestep_spacing
            )
            started = time.perf_counter()
            output = drawing(
                prompt=[style.prompt_for(job.prompt) for job in jobs],
                num_inference_steps=steps,
                guidance_scale=plan.guidance,
                generator=generators,
                output_type="latent",
                **call,
                **negative,
            )
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()  # so the time below is the GPU's, not the launch's
            seconds = time.perf_counter() - started
        latents: torch.Tensor = output.images
        return latents, seconds

    def _flagged(self, safety: SafetyCheck, picture: Image.Image, prompt: str) -> bool:
        with self._lock:
            return safety.flagged([picture], [prompt])[0]

    def _decode(self, style_id: str, latents: torch.Tensor) -> np.ndarray:
        """Latents to pictures as floats in 0..1, (N, H, W, 3); NaNs kept, for is_broken."""
        vae = self._pipelines[style_id].vae
        with self._lock, torch.no_grad():
            decoded = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor, return_dict=False)[0]
            pixels = (decoded.float() / 2 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
        result: np.ndarray = pixels
        return result

    def _switch_adapters(
        self, pipeline: StableDiffusionXLPipeline, wanted: tuple[tuple[str, float], ...]
    ) -> None:
        key = (id(pipeline), wanted)
        if self._active == key:
            return
        loaded = {name for names in pipeline.get_list_adapters().values() for name in names}
        missing = [name for name, _ in wanted if name not in loaded]
        if missing:
            raise RuntimeError(f"LoRA adapters {missing} are not loaded")
        if wanted:
            pipeline.enable_lora()
            pipeline.set_adapters([name for name, _ in wanted], [scale for _, scale in wanted])
        elif loaded:
            pipeline.disable_lora()
        self._active = key


def _to_image(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray((pixels * 255).round().astype(np.uint8), "RGB")
