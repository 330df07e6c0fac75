"""Scheduler names of the styles (styles.SCHEDULERS) as diffusers schedulers.

Each is built from the model's own scheduler config as it was loaded (its noise schedule), never
from the scheduler the previous batch ran: diffusers copies a scheduler's whole config into the
next one built from it, so a DDIM made after a DPM++ would inherit DPM++'s settings (and keys
DDIM reads differently, such as clip_sample). A fresh one per pipeline call: a scheduler keeps
per-call state.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from diffusers import (
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    LCMScheduler,
)
from diffusers.schedulers.scheduling_utils import SchedulerMixin

from gpu_service.styles import SCHEDULERS

_Factory = Callable[[dict[str, Any]], SchedulerMixin]
_FACTORIES: dict[str, _Factory] = {
    "lcm": lambda config: LCMScheduler.from_config(own_settings(LCMScheduler, config)),
    # Euler: SDXL's own sampler, and SDXL-Lightning's (with trailing timesteps).
    "euler": lambda config: EulerDiscreteScheduler.from_config(own_settings(EulerDiscreteScheduler, config)),
    # DPM++ 2M with Karras sigmas: the usual choice for 20-30 step pictures.
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


def make_scheduler(
    name: str, load_time_config: Mapping[str, Any], *, timestep_spacing: str | None = None
) -> SchedulerMixin:
    """The scheduler `name` on the model's noise schedule. Pass the config the pipeline was
    loaded with (Engine keeps it), not the current scheduler's."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ValueError(f"unknown scheduler {name!r}; known: {', '.join(_FACTORIES)}") from None
    config = dict(load_time_config)
    if timestep_spacing is not None:
        config["timestep_spacing"] = timestep_spacing
    return factory(config)


def own_settings(scheduler: type[SchedulerMixin], config: Mapping[str, Any]) -> dict[str, Any]:
    """The part of another scheduler's config this one takes: the noise schedule carries over,
    the rest (PNDM's skip_prk_steps, say) would make diffusers warn on every picture."""
    accepted = inspect.signature(scheduler.__init__).parameters
    return {key: value for key, value in config.items() if key in accepted}
