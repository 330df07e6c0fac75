"""A recording pipeline: the real diffusers pipeline, which remembers every call (and can fail)."""

from __future__ import annotations

from typing import Any

from diffusers import StableDiffusionXLPipeline

from gpu_service.engine import Engine
from gpu_service.safety import SafetyCheck


class RecordingPipeline(StableDiffusionXLPipeline):
    """The real pipeline, which also remembers the arguments of every call (and can fail)."""

    calls: list[dict[str, Any]]
    fail_when: Any = None  # a predicate on the call's keyword arguments

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(
            {
                **kwargs,
                "scheduler": type(self.scheduler).__name__,
                "scheduler_config": dict(self.scheduler.config),
                "active_adapters": _active_adapters(self.unet),
            }
        )
        if self.fail_when is not None and self.fail_when(kwargs):
            raise RuntimeError("CUDA out of memory (a test's stand-in)")
        return super().__call__(*args, **kwargs)


def _active_adapters(model: Any) -> list[str]:
    """The LoRA adapters that act on the model's output: none while LoRAs are disabled."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    layer = next((m for m in model.modules() if isinstance(m, BaseTunerLayer)), None)
    if layer is None or layer.disable_adapters:
        return []
    return sorted(model.active_adapters())


def spy_engine(engine: Engine, *, safety: SafetyCheck | None = None) -> tuple[Engine, RecordingPipeline]:
    """The engine with every style's pipeline replaced by one recording pipeline built from the
    same components (and the same LoRA adapters, which live in the shared UNet and encoders)."""
    components = engine.pipeline_for("ghibli").components
    spy = RecordingPipeline(**components, add_watermarker=False)
    spy.calls = []
    spied = Engine(
        {style: spy for style in engine.styles},
        engine.styles,
        device="cpu",
        tiny=engine.tiny,
        safety=safety,
    )
    return spied, spy


class FlagEverything:
    """A safety check that flags every picture (the tiny checker's concepts never match noise
    in a way a test could rely on, so tests of the flagged path use this, or
    tiny_pipeline.build_tiny_safety_checker(flag_all=True))."""

    def flagged(self, pictures: Any, prompts: Any) -> list[bool]:
        return [True] * len(pictures)
