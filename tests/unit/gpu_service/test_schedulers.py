from __future__ import annotations

import pytest
from diffusers.utils import logging as diffusers_logging

from gpu_service.schedulers import make_scheduler
from gpu_service.styles import SCHEDULERS
from gpu_service.tiny_pipeline import SDXL_SCHEDULER_CONFIG

# SDXL base's own scheduler config (Euler), as a pipeline loaded from the Hub carries it.
SDXL = dict(SDXL_SCHEDULER_CONFIG)


@pytest.mark.parametrize("name", SCHEDULERS)
def test_each_scheduler_keeps_the_models_noise_schedule_without_a_warning(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    diffusers_logging.set_verbosity_warning()
    diffusers_logging.enable_propagation()  # diffusers' own handler is not pytest's
    try:
        scheduler = make_scheduler(name, SDXL)
    finally:
        diffusers_logging.disable_propagation()

    assert scheduler.config.beta_start == SDXL["beta_start"]
    assert scheduler.config.beta_schedule == SDXL["beta_schedule"]
    assert not [r.message for r in caplog.records if "not expected and will be ignored" in r.getMessage()]


def test_a_recipes_timestep_spacing_overrides_the_models_and_only_for_that_scheduler() -> None:
    lightning = make_scheduler("euler", SDXL, timestep_spacing="trailing")
    plain = make_scheduler("euler", SDXL)

    assert (lightning.config.timestep_spacing, plain.config.timestep_spacing) == ("trailing", "leading")
    assert SDXL["timestep_spacing"] == "leading"  # the load-time config itself is left alone


def test_built_from_the_previous_schedulers_config_ddim_would_inherit_the_wrong_clip_sample() -> None:
    # Why the engine keeps the load-time config: DPM++ drops clip_sample, so a DDIM built
    # from a DPM++ scheduler's config falls back to DDIM's default (True).
    dpm = make_scheduler("dpmpp_2m_karras", SDXL)

    assert make_scheduler("ddim", dpm.config).config.clip_sample is True
    assert make_scheduler("ddim", SDXL).config.clip_sample is False


def test_an_unknown_scheduler_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scheduler 'plms'"):
        make_scheduler("plms", SDXL)
