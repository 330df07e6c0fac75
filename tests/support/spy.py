"""A recording pipeline: the real diffusers pipeline, which remembers every call (and can fail)."""

from __future__ import annotations

from typing import Any

from diffusers import StableDiffusionPipeline

from gpu_service.engine import Engine


class RecordingPipeline(StableDiffusionPipeline):
    """The real pipeline, which also remembers the arguments of every call (and can fail)."""

    calls: list[dict[str, Any]]
    fail_when: Any = None  # a predicate on the call's keyword arguments

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append({**kwargs, "scheduler": type(self.scheduler).__name__})
        if self.fail_when is not None and self.fail_when(kwargs):
            raise RuntimeError("CUDA out of memory (a test's stand-in)")
        return super().__call__(*args, **kwargs)


def spy_engine(engine: Engine, **pipeline_overrides: Any) -> tuple[Engine, RecordingPipeline]:
    """The engine with every style's pipeline replaced by one recording pipeline built from the
    same components (and the same LoRA adapters, which live in the shared UNet)."""
    components = {**engine.pipeline_for("ghibli").components, **pipeline_overrides}
    spy = RecordingPipeline(**components, requires_safety_checker=False)
    spy.set_progress_bar_config(disable=True)
    spy.calls = []
    spied = Engine(
        {style: spy for style in engine.styles},
        engine.styles,
        device="cpu",
        tiny=engine.tiny,
        adapters=engine.adapters,
    )
    return spied, spy
