from __future__ import annotations

import json
from pathlib import Path

import pytest
from diffusers.utils import logging as diffusers_logging

from gpu_service.schedulers import make_scheduler
from gpu_service.styles import SCHEDULERS

# SD 1.5's own scheduler config (PNDM), as a pipeline loaded from the hub carries it.
SD15 = json.loads((Path(__file__).parents[3] / "bench" / "sd15" / "scheduler.json").read_text())


@pytest.mark.parametrize("name", SCHEDULERS)
def test_each_scheduler_keeps_the_models_noise_schedule_without_a_warning(name, caplog):
    diffusers_logging.set_verbosity_warning()
    diffusers_logging.enable_propagation()  # diffusers' own handler is not pytest's
    try:
        scheduler = make_scheduler(name, SD15)
    finally:
        diffusers_logging.disable_propagation()

    assert (
        scheduler.config.beta_start == SD15["beta_start"]
        and scheduler.config.beta_schedule == SD15["beta_schedule"]
    )
    assert not [r.message for r in caplog.records if "not expected and will be ignored" in r.getMessage()]


def test_an_unknown_scheduler_is_refused():
    with pytest.raises(ValueError, match="unknown scheduler 'plms'"):
        make_scheduler("plms", SD15)
