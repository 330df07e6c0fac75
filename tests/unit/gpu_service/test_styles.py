from __future__ import annotations

from dataclasses import replace

import pytest

from gpu_service import postprocess
from gpu_service.contract import ASPECTS, STYLES
from gpu_service.styles import (
    ECONOMY,
    GHIBLI,
    LCM_XL,
    LIGHTNING_2,
    LIGHTNING_4,
    MIN_SIDE,
    PIXEL,
    REALISTIC,
    SCHEDULERS,
    STYLES_BY_ID,
    Style,
    loras_for,
    sources,
    with_paths,
)

# Licences that forbid commercial use or gate the weights: none may appear (DMD2 is
# cc-by-nc-4.0; SDXL-Turbo's research licence is non-commercial and gated).
NOT_ALLOWED = ("nc", "non-commercial", "research", "gated")


def test_the_styles_are_exactly_the_contracts() -> None:
    assert tuple(STYLES_BY_ID) == STYLES == ("ghibli", "realistic", "pixel")
    assert all(style.id == style_id for style_id, style in STYLES_BY_ID.items())


@pytest.mark.parametrize("style", STYLES_BY_ID.values(), ids=STYLES)
def test_every_style_is_a_complete_sdxl_recipe_at_1024(style: Style) -> None:
    assert "/" in style.model.repo and style.model.revision
    assert "{prompt}" in style.prompt_template and style.negative_prompt
    assert style.size == 1024 and style.path == "fast"
    # Few steps without guidance by default; a guided few-step recipe for negative prompts.
    assert style.fast.lora == LIGHTNING_4 and style.fast.steps == 4 and not style.fast.applies_negative
    assert style.guided.lora == LCM_XL and 1.5 <= style.guided.guidance <= 3 and style.guided.steps <= 8
    assert style.quality.scheduler in SCHEDULERS and style.quality.lora is None
    assert 20 <= style.quality.steps <= 50 and style.quality.applies_negative
    assert style.economy == ECONOMY and style.economy.steps < style.fast.steps
    assert style.postprocess in postprocess.POSTPROCESSORS
    assert style.vae is not None and style.vae.repo == "madebyollin/sdxl-vae-fp16-fix"


def test_every_model_has_a_commercial_licence_and_all_but_one_a_commit() -> None:
    found = sources(STYLES_BY_ID.values())

    assert {role for role, _ in found} >= {"ghibli model", "lora lightning-4", "lora lcm", "safety checker"}
    for role, source in found:
        assert source.licence and not any(word in source.licence for word in NOT_ALLOWED), role
    unpinned = {source.repo for _, source in found if not source.pinned}
    # No commit of the Ghibli slider could be read from the Hub's public pages: the manifest
    # records the one main resolves to (gpu_service/prepare_models.py).
    assert unpinned == {"ntc-ai/SDXL-LoRA-slider.Studio-Ghibli-style"}


def test_ghibli_and_pixel_are_loras_on_one_base_and_realistic_is_its_own_fine_tune() -> None:
    assert GHIBLI.model == PIXEL.model != REALISTIC.model
    assert GHIBLI.lora is not None and PIXEL.lora is not None and REALISTIC.lora is None
    assert (PIXEL.lora.scale, GHIBLI.lora.scale) == (1.2, 2.0)  # their cards' strengths


def test_pixel_art_is_a_lossless_grid_and_the_others_jpeg() -> None:
    assert {s.id: (s.postprocess, s.encoding) for s in STYLES_BY_ID.values()} == {
        "ghibli": ("none", "jpeg"),
        "realistic": ("none", "jpeg"),
        "pixel": ("pixel_grid", "png"),
    }


def test_the_prompt_template_wraps_the_user_prompt() -> None:
    assert PIXEL.prompt_for("  a cat on a roof ") == "pixel, pixel art, a cat on a roof"


def test_the_users_negative_prompt_follows_the_styles() -> None:
    assert PIXEL.negative_prompt_for("dogs") == f"{PIXEL.negative_prompt}, dogs"
    assert PIXEL.negative_prompt_for("  ") == PIXEL.negative_prompt


def test_the_aspects_are_sdxls_own_buckets_never_below_768() -> None:
    sizes = {aspect: GHIBLI.size_for(aspect) for aspect in ASPECTS}

    assert sizes == {"square": (1024, 1024), "portrait": (896, 1152), "landscape": (1152, 896)}
    assert all(min(size) >= MIN_SIDE for size in sizes.values())
    assert GHIBLI.plan(mode="economy", aspect="portrait").width == 896  # economy: fewer steps only


def test_a_normal_job_takes_the_styles_path_a_negative_one_the_guided_and_economy_its_own() -> None:
    fast = GHIBLI.plan(mode="normal", aspect="square")
    guided = GHIBLI.plan(mode="normal", aspect="square", negative=True)
    quality = GHIBLI.with_path("quality").plan(mode="normal", aspect="portrait", negative=True)
    economy = GHIBLI.plan(mode="economy", aspect="square", negative=True)

    assert (fast.recipe_name, fast.scheduler, fast.steps, fast.guidance) == ("fast", "euler", 4, 0.0)
    assert fast.timestep_spacing == "trailing" and not fast.applies_negative
    assert fast.adapters == (("ghibli", 2.0), (LIGHTNING_4.name, 1.0))
    assert (guided.recipe_name, guided.scheduler, guided.guidance) == ("guided", "lcm", 1.5)
    assert guided.applies_negative and guided.adapters == (("ghibli", 2.0), ("lcm", 1.0))
    assert (quality.recipe_name, quality.scheduler, quality.steps) == ("quality", "dpmpp_2m_karras", 25)
    assert quality.adapters == (("ghibli", 2.0),) and (quality.width, quality.height) == (896, 1152)
    assert (economy.recipe_name, economy.steps) == ("economy", 2) and not economy.applies_negative
    assert economy.adapters == (("ghibli", 2.0), (LIGHTNING_2.name, 1.0))


def test_every_plan_a_style_serves_is_listed_for_warm_up() -> None:
    plans = PIXEL.plans()

    assert {(p.recipe_name, p.width, p.height) for p in plans} == {
        (recipe, *PIXEL.size_for(aspect)) for recipe in ("fast", "guided", "economy") for aspect in ASPECTS
    }
    assert len(plans) == len(set(plans)) == 9


def test_the_loras_of_the_styles_are_the_few_step_ones_and_the_style_ones() -> None:
    assert set(loras_for(STYLES_BY_ID.values())) == {
        "lightning-4",
        "lightning-2",
        "lcm",
        "ghibli",
        "pixel-art",
    }
    assert set(loras_for([REALISTIC])) == {"lightning-4", "lightning-2", "lcm"}
    assert set(loras_for([REALISTIC.with_path("quality")])) == {"lightning-2"}  # economy only


def test_jobs_batch_together_only_with_equal_plans() -> None:
    square = REALISTIC.plan(mode="normal", aspect="square")

    assert square == REALISTIC.plan(mode="normal", aspect="square")
    assert square != REALISTIC.plan(mode="economy", aspect="square")
    assert square != REALISTIC.plan(mode="normal", aspect="portrait")
    assert square != REALISTIC.plan(mode="normal", aspect="square", negative=True)
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
    [
        ({"path": "slow"}, "path"),
        ({"encoding": "gif"}, "encoding"),
        ({"size": 1000}, "multiple of 16"),
        ({"guided": replace(ECONOMY, lora=None)}, "guidance above 1"),
        ({"fast": replace(ECONOMY, timestep_spacing="sideways")}, "bad recipe"),
    ],
)
def test_a_malformed_style_is_refused_when_defined(change: dict[str, object], reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        replace(GHIBLI, **change)


def test_scaled_keeps_everything_but_the_size_and_caps_the_steps() -> None:
    small = PIXEL.scaled(size=128, steps=2)

    assert small.size == 128 and small.size_for("portrait") == (112, 144)
    assert (small.fast.steps, small.guided.steps, small.quality.steps, small.economy.steps) == (2, 2, 2, 2)
    assert (small.lora, small.prompt_template, small.encoding) == (
        PIXEL.lora,
        PIXEL.prompt_template,
        PIXEL.encoding,
    )
