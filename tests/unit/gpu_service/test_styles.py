from __future__ import annotations

from dataclasses import replace

import pytest

from gpu_service import postprocess
from gpu_service.contract import ASPECTS, STYLES
from gpu_service.styles import (
    ECONOMY,
    GHIBLI,
    LCM_LORA,
    PIXEL,
    REALISTIC,
    SCHEDULERS,
    STYLES_BY_ID,
    Style,
    loras_for,
    with_paths,
)


def test_the_styles_are_exactly_the_contracts() -> None:
    assert tuple(STYLES_BY_ID) == STYLES == ("ghibli", "realistic", "pixel")
    assert all(style.id == style_id for style_id, style in STYLES_BY_ID.items())


@pytest.mark.parametrize("style", STYLES_BY_ID.values(), ids=STYLES)
def test_every_style_is_a_complete_sd15_recipe(style: Style) -> None:
    assert "/" in style.model.repo and style.model.revision
    assert "{prompt}" in style.prompt_template and style.negative_prompt
    assert style.fast.scheduler == "lcm" and 4 <= style.fast.steps <= 8 and style.fast.guidance <= 2
    assert style.quality.scheduler in SCHEDULERS and style.quality.scheduler != "lcm"
    assert 20 <= style.quality.steps <= 50 and style.quality.guidance > 2
    assert style.economy.steps <= style.fast.steps and style.economy_size < style.size == 512
    assert style.postprocess in postprocess.POSTPROCESSORS
    assert style.path == "fast"  # one fast path serves all three


def test_pinned_revisions_are_commit_hashes() -> None:
    assert LCM_LORA.source.pinned and GHIBLI.model.pinned and REALISTIC.model.pinned
    assert not PIXEL.model.pinned  # "main" until prepare_models's manifest says which commit


def test_pixel_art_is_a_lossless_grid_and_the_others_jpeg() -> None:
    assert {s.id: (s.postprocess, s.encoding) for s in STYLES_BY_ID.values()} == {
        "ghibli": ("none", "jpeg"),
        "realistic": ("none", "jpeg"),
        "pixel": ("pixel_grid", "png"),
    }


def test_the_prompt_template_wraps_the_user_prompt() -> None:
    assert GHIBLI.prompt_for("  a cat on a roof ") == "ghibli style, a cat on a roof"


def test_the_users_negative_prompt_follows_the_styles() -> None:
    assert PIXEL.negative_prompt_for("dogs") == f"{PIXEL.negative_prompt}, dogs"
    assert PIXEL.negative_prompt_for("  ") == PIXEL.negative_prompt


def test_aspects_stretch_one_side_by_half_in_multiples_of_64() -> None:
    sizes = {aspect: GHIBLI.size_for(aspect) for aspect in ASPECTS}
    economy = {aspect: GHIBLI.size_for(aspect, "economy") for aspect in ASPECTS}

    assert sizes == {"square": (512, 512), "portrait": (512, 768), "landscape": (768, 512)}
    assert economy == {"square": (384, 384), "portrait": (384, 576), "landscape": (576, 384)}


def test_a_normal_job_takes_the_styles_path_and_an_economy_job_the_economy_recipe() -> None:
    fast = GHIBLI.plan(mode="normal", aspect="square")
    quality = GHIBLI.with_path("quality").plan(mode="normal", aspect="portrait")
    economy = GHIBLI.with_path("quality").plan(mode="economy", aspect="square")

    assert (fast.recipe_name, fast.scheduler, fast.steps, fast.guidance) == ("fast", "lcm", 6, 1.0)
    assert fast.adapters == (("lcm", 1.0),)
    assert (quality.recipe_name, quality.scheduler, quality.steps, quality.guidance) == (
        "quality",
        "dpmpp_2m_karras",
        25,
        7.0,
    )
    assert quality.adapters == () and (quality.width, quality.height) == (512, 768)
    assert (economy.recipe_name, economy.steps, economy.width) == ("economy", ECONOMY.steps, 384)
    assert economy.adapters == (("lcm", 1.0),)


def test_a_style_lora_is_always_on_and_comes_before_lcm() -> None:
    assert PIXEL.plan(mode="normal", aspect="square").adapters == (("pixel-art", 1.0), ("lcm", 1.0))
    assert PIXEL.with_path("quality").plan(mode="normal", aspect="square").adapters == (("pixel-art", 1.0),)
    assert set(loras_for(STYLES_BY_ID.values())) == {"lcm", "pixel-art"}
    assert set(loras_for([GHIBLI])) == {"lcm"}


def test_jobs_batch_together_only_with_equal_plans() -> None:
    square = REALISTIC.plan(mode="normal", aspect="square")

    assert square == REALISTIC.plan(mode="normal", aspect="square")
    assert square != REALISTIC.plan(mode="economy", aspect="square")
    assert square != REALISTIC.plan(mode="normal", aspect="portrait")
    assert square != GHIBLI.plan(mode="normal", aspect="square")


def test_operators_choose_paths_per_style() -> None:
    chosen = with_paths(STYLES_BY_ID, {"realistic": "quality"})

    assert {s.id: s.path for s in chosen.values()} == {
        "ghibli": "fast",
        "realistic": "quality",
        "pixel": "fast",
    }
    with pytest.raises(ValueError, match="unknown styles"):
        with_paths(STYLES_BY_ID, {"cubism": "fast"})


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"path": "slow"}, "path"), ({"encoding": "gif"}, "encoding"), ({"size": 500}, "multiples of 64")],
)
def test_a_malformed_style_is_refused_when_defined(change: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        replace(GHIBLI, **change)


def test_scaled_keeps_everything_but_sizes_and_caps_the_steps() -> None:
    small = PIXEL.scaled(size=128, economy_size=64, steps=2)

    assert (small.size, small.economy_size) == (128, 64)
    assert (small.fast.steps, small.quality.steps, small.economy.steps) == (2, 2, 2)
    assert (small.lora, small.prompt_template, small.encoding) == (
        PIXEL.lora,
        PIXEL.prompt_template,
        PIXEL.encoding,
    )
