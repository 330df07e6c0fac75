"""Scheduler names of the styles (styles.SCHEDULERS) as diffusers schedulers.

Each is built from the model's own scheduler config (its noise schedule), so the same name
works for every SD 1.5 model. A fresh one per pipeline call: a scheduler keeps per-call state.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    LCMScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from gpu_service.styles import SCHEDULERS

_FACTORIES: dict[str, Callable[[Mapping[str, Any]], SchedulerMixin]] = {
    "lcm": lambda config: LCMScheduler.from_config(own_settings(LCMScheduler, config)),
    # DPM++ 2M with Karras sigmas: the usual choice for 20-30 step SD 1.5 pictures.
    "dpmpp_2m_karras": lambda config: DPMSolverMultistepScheduler.from_config(
        own_settings(DPMSolverMultistepScheduler, config),
        algorithm_type="dpmsolver++",
        use_karras_sigmas=True,
    ),
    "euler_a": lambda config: EulerAncestralDiscreteScheduler.from_config(
        own_settings(EulerAncestralDiscreteScheduler, config)
    ),
    "ddim": lambda config: DDIMScheduler.from_config(own_settings(DDIMScheduler, config)),
}
if tuple(_FACTORIES) != SCHEDULERS:
    raise RuntimeError("gpu_service.schedulers and styles.SCHEDULERS name different schedulers")


def make_scheduler(name: str, config: Mapping[str, Any]) -> SchedulerMixin:
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown scheduler {name!r}; known: {', '.join(_FACTORIES)}") from None
    return factory(config)


def own_settings(scheduler: type[SchedulerMixin], config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of another scheduler's config this one takes: the noise schedule carries over,
    the rest (PNDM's skip_prk_steps, say) would make diffusers warn on every picture."""
    accepted = inspect.signature(scheduler.__init__).parameters
    return {key: value for key, value in config.items() if key in accepted}
