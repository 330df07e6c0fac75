"""The diffusion engine: every style's pipeline loaded once per process, called one batch at a time.

`load_engine` is the only way an engine is made, for real weights and for the tiny CPU pipeline
alike, so tests exercise the same loading path as production (gpu_service/loading.py).

A pipeline call draws a batch of jobs that share a plan (style, recipe, size: styles.Plan),
with one torch.Generator per job, so a job draws the same picture alone or in a batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
from diffusers import StableDiffusionPipeline
from PIL import Image

from gpu_service import encoding, postprocess
from gpu_service.contract import STYLES, GenerationJob
from gpu_service.images import GeneratedImage
from gpu_service.refusals import UnsafeOutput
from gpu_service.schedulers import make_scheduler
from gpu_service.styles import Plan, Style

log = logging.getLogger(__name__)

# The tiny pipeline's pictures are noise whatever their size: draw them small and in few steps
# so a CPU makes one in well under a second.
TINY_SIZE = 128
TINY_ECONOMY_SIZE = 64
TINY_STEPS = 2
# Enough to run every kernel of a plan's shapes once (CUDA context, cuDNN autotuning, allocator).
WARM_UP_STEPS = 2


@dataclass
class Adapters:
    """The LoRA adapters of one UNet, and which of them are on right now.

    When every plan that runs on a UNet uses the same adapters (the usual case: each style on
    its own model, fast path, and economy also on the fast path), they are fused into the
    UNet's weights at load time: no switching, and no extra matrix products per step.
    """

    fused: tuple[tuple[str, float], ...] | None = None
    active: tuple[tuple[str, float], ...] | None = None  # None: unknown, set on the next batch


class Engine:
    """Draws the pictures of a batch of jobs: plan, seeded noise, pipeline, post-processing, file."""

    def __init__(
        self,
        pipelines: Mapping[str, StableDiffusionPipeline],
        styles: Mapping[str, Style],
        *,
        device: str,
        tiny: bool = False,
        adapters: Mapping[str, Adapters] | None = None,
        warm_up_batch: int = 1,
    ) -> None:
        missing = [style for style in STYLES if style not in pipelines or style not in styles]
        if missing:
            raise ValueError(f"no pipeline or settings for styles {missing}")
        self.styles = dict(styles)
        self.device = device
        self.tiny = tiny
        self.warm_up_batch = warm_up_batch
        self._pipelines = dict(pipelines)
        # By style; styles that share a UNet share one record. None: no LoRA at all.
        self.adapters = dict(adapters or {})
        # Pipeline calls are not reentrant (the scheduler and the adapters are per-call state),
        # and one GPU runs one batch at a time anyway. The batcher's single worker is the only
        # caller in the service; the lock keeps direct callers (warm-up, tests) safe too.
        self._lock = threading.Lock()

    def pipeline_for(self, style_id: str) -> StableDiffusionPipeline:
        return self._pipelines[style_id]

    def plan_for(self, job: GenerationJob) -> Plan:
        return self.styles[job.style].plan(mode=job.mode, aspect=job.aspect)

    def generate(self, job: GenerationJob) -> GeneratedImage:
        (result,) = self.generate_batch([job])
        if isinstance(result, BaseException):
            raise result
        return result

    def generate_batch(self, jobs: Sequence[GenerationJob]) -> list[GeneratedImage | Exception]:
        """One result per job, in order: its picture, or the error that is its alone.

        All jobs must share one plan. If the batched call fails, each job is drawn again on its
        own, so that one bad job (say, one that runs out of memory) fails alone.
        """
        plans = {self.plan_for(job) for job in jobs}
        if len(plans) != 1:
            raise ValueError(f"a batch needs jobs of one plan, got {len(plans)}")
        (plan,) = plans
        try:
            pictures, flagged, seconds = self._draw(plan, jobs)
        except Exception as error:
            if len(jobs) == 1:
                return [error]
            log.warning("batched call failed; drawing its %d jobs one by one", len(jobs), exc_info=True)
            return [self.generate_batch([job])[0] for job in jobs]
        style = self.styles[plan.style]
        results: list[GeneratedImage | Exception] = []
        for job, picture, unsafe in zip(jobs, pictures, flagged, strict=True):
            if unsafe:
                log.warning("the safety checker flagged the picture; refused", extra={"job_id": job.job_id})
                results.append(UnsafeOutput())
                continue
            try:
                encoded = encoding.encode(postprocess.apply(style.postprocess, picture), style.encoding)
            except Exception as error:  # noqa: BLE001  # this job's failure, not the batch's
                results.append(error)
                continue
            results.append(
                GeneratedImage(
                    data=encoded.data,
                    encoding=encoded.encoding,
                    width=encoded.width,
                    height=encoded.height,
                    style=style.id,
                    seed=job.seed,
                    steps=plan.steps,
                    seconds=seconds,
                    batch_size=len(jobs),
                )
            )
        log.info(
            "batch drawn",
            extra={
                "style": style.id,
                "recipe": plan.recipe_name,
                "steps": plan.steps,
                "width": plan.width,
                "height": plan.height,
                "batch_size": len(jobs),
                "duration_ms": round(seconds * 1000),
            },
        )
        return results

    def warm_up(self) -> None:
        """Every plan each style can run, once, at the batch size the batcher forms: the first
        jobs do not pay for CUDA kernels, and a batch that does not fit in memory fails here,
        before /readyz turns 200, not on a user's job."""
        started = time.perf_counter()
        warmed: set[tuple[int, str, int, int, tuple[tuple[str, float], ...]]] = set()
        for style in self.styles.values():
            pipeline = self._pipelines[style.id]
            for plan in style.plans():
                key = (id(pipeline), plan.scheduler, plan.width, plan.height, plan.adapters)
                if key in warmed:
                    continue
                warmed.add(key)
                jobs = [
                    GenerationJob(job_id=f"warm-up-{n}", chat_id=0, prompt="warm-up", style=style.id, seed=n)
                    for n in range(self.warm_up_batch)
                ]
                self._draw(plan, jobs, steps=min(WARM_UP_STEPS, plan.steps))
        log.info(
            "engine warm",
            extra={
                "duration_ms": round((time.perf_counter() - started) * 1000),
                "batch_size": self.warm_up_batch,
            },
        )

    def _draw(
        self, plan: Plan, jobs: Sequence[GenerationJob], *, steps: int | None = None
    ) -> tuple[list[Image.Image], list[bool], float]:
        style = self.styles[plan.style]
        pipeline = self._pipelines[plan.style]
        # One generator per job, on the CPU: each job's starting noise depends on its own seed
        # only (not on its place in the batch), and is the same on every device. (The picture
        # also depends on the precision: the tiny test model draws differently in fp16 on a
        # GPU than in fp32 on a laptop from the same noise, measured on an H100.)
        generators = [torch.Generator("cpu").manual_seed(job.seed) for job in jobs]
        with self._lock:
            self._switch_adapters(plan.style, pipeline, plan.adapters)
            pipeline.scheduler = make_scheduler(plan.scheduler, pipeline.scheduler.config)
            started = time.perf_counter()
            output = pipeline(
                prompt=[style.prompt_for(job.prompt) for job in jobs],
                negative_prompt=[style.negative_prompt_for(job.negative_prompt) for job in jobs],
                num_inference_steps=steps or plan.steps,
                guidance_scale=plan.guidance,
                width=plan.width,
                height=plan.height,
                generator=generators,
                output_type="pil",
            )
            if self.device.startswith("cuda"):
                torch.cuda.synchronize()  # so the time below is the GPU's, not the launch's
            seconds = time.perf_counter() - started
        flagged = list(output.nsfw_content_detected or [False] * len(jobs))
        return list(output.images), [bool(flag) for flag in flagged], seconds

    def _switch_adapters(
        self, style_id: str, pipeline: StableDiffusionPipeline, wanted: tuple[tuple[str, float], ...]
    ) -> None:
        adapters = self.adapters.get(style_id)
        if adapters is None:
            if wanted:
                raise RuntimeError(f"style {style_id} has no LoRA adapters loaded")
            return
        if adapters.fused is not None:
            if adapters.fused != wanted:
                raise RuntimeError(f"adapters {wanted} asked of a UNet with {adapters.fused} fused")
            return
        if adapters.active == wanted:
            return
        if wanted:
            pipeline.enable_lora()
            pipeline.set_adapters([name for name, _ in wanted], [scale for _, scale in wanted])
        else:
            pipeline.disable_lora()
        adapters.active = wanted
