from __future__ import annotations

import pytest

from gpu_service import postprocess
from gpu_service.contract import ASPECTS, STYLES
from gpu_service.styles import GHIBLI, PIXEL, STYLES_BY_ID, Style


def test_the_styles_are_exactly_the_contracts() -> None:
    assert tuple(STYLES_BY_ID) == STYLES == ("ghibli", "realistic", "pixel")
    assert all(style.id == style_id for style_id, style in STYLES_BY_ID.items())


@pytest.mark.parametrize("style", STYLES_BY_ID.values(), ids=STYLES)
def test_every_style_is_a_complete_sd15_recipe(style: Style) -> None:
    assert "/" in style.model.repo and style.model.revision
    assert "{prompt}" in style.prompt_template
    assert style.negative_prompt
    assert 1 <= style.steps <= 50
    assert 1.0 <= style.guidance <= 12.0
    assert (style.width, style.height) == (512, 512)
    assert style.postprocess in postprocess.POSTPROCESSORS


def test_only_pixel_art_is_post_processed() -> None:
    assert {style.id: style.postprocess for style in STYLES_BY_ID.values()} == {
        "ghibli": "none",
        "realistic": "none",
        "pixel": "pixel_grid",
    }


def test_the_prompt_template_wraps_the_user_prompt() -> None:
    assert GHIBLI.prompt_for("  a cat on a roof ") == "ghibli style, a cat on a roof"


def test_the_users_negative_prompt_follows_the_styles() -> None:
    assert PIXEL.negative_prompt_for("dogs") == f"{PIXEL.negative_prompt}, dogs"
    assert PIXEL.negative_prompt_for("  ") == PIXEL.negative_prompt


def test_aspects_stretch_one_side_by_half_in_multiples_of_64() -> None:
    sizes = {aspect: GHIBLI.size_for(aspect) for aspect in ASPECTS}

    assert sizes == {"square": (512, 512), "portrait": (512, 768), "landscape": (768, 512)}
    assert GHIBLI.scaled(size=128, steps=2).size_for("portrait") == (128, 192)


def test_an_unknown_aspect_is_an_error() -> None:
    with pytest.raises(ValueError, match="aspect"):
        GHIBLI.size_for("panorama")


def test_scaled_keeps_everything_but_size_and_steps() -> None:
    small = PIXEL.scaled(size=128, steps=2)

    assert (small.width, small.height, small.steps) == (128, 128, 2)
    assert (small.prompt_template, small.guidance, small.postprocess) == (
        PIXEL.prompt_template,
        PIXEL.guidance,
        PIXEL.postprocess,
    )
