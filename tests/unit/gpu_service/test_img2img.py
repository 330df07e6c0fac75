"""img2img on the tiny SDXL pipeline: the same loaded modules, the photo really is the start."""

from __future__ import annotations

import io
from dataclasses import replace

import numpy as np
import pytest
import torch
from diffusers import StableDiffusionXLImg2ImgPipeline
from PIL import Image

from gpu_service.contract import STYLES
from gpu_service.engine import Engine, img2img_steps
from gpu_service.inputs import fit, open_input
from gpu_service.loading import load_engine
from gpu_service.refusals import BadInput
from gpu_service.styles import STYLES_BY_ID
from tests.support.spy import _active_adapters

from .conftest import make_job, pixels
from .test_engine import lossless

PHOTO = "inputs/u1001.jpg"


def photo(colour: tuple[int, int, int], size: tuple[int, int] = (300, 200)) -> Image.Image:
    """A photo with some structure: a colour field with a bright square off centre."""
    image = Image.new("RGB", size, colour)
    image.paste((240, 240, 240), (size[0] // 5, size[1] // 5, size[0] // 2, size[1] // 2))
    return image


def parameter_bytes(modules: list[torch.nn.Module]) -> int:
    """Bytes of the distinct parameter and buffer tensors of the modules (shared ones once)."""
    seen: dict[int, int] = {}
    for module in modules:
        for tensor in [*module.parameters(), *module.buffers()]:
            seen[tensor.data_ptr()] = tensor.numel() * tensor.element_size()
    return sum(seen.values())


def modules_of(pipeline: object) -> list[torch.nn.Module]:
    return [m for m in vars(pipeline).values() if isinstance(m, torch.nn.Module)]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return load_engine(None, device="cpu", warm_up=False)


def test_img2img_runs_on_the_text_pipelines_very_modules_and_adds_no_weights(engine: Engine) -> None:
    text = engine.pipeline_for("ghibli")
    before = parameter_bytes(modules_of(text))
    for style in STYLES:
        img2img = engine.img2img_for(style)
        assert isinstance(img2img, StableDiffusionXLImg2ImgPipeline)
        for name in ("unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"):
            assert getattr(img2img, name) is getattr(engine.pipeline_for(style), name), name
    every = [
        m
        for style in STYLES
        for p in (engine.pipeline_for(style), engine.img2img_for(style))
        for m in modules_of(p)
    ]
    assert parameter_bytes(every) == before > 0
    # and an img2img call leaves it so (no upcast copy of the VAE is kept, no new adapter)
    engine.generate(make_job(input_image=PHOTO), photo((200, 30, 30)))
    assert parameter_bytes(every) == before


def test_two_photos_give_measurably_different_pictures_for_one_seed_and_prompt(engine: Engine) -> None:
    job = make_job(input_image=PHOTO, style="realistic", seed=77)

    red = pixels(engine.generate(job, photo((220, 20, 20))).data)
    again = pixels(engine.generate(job, photo((220, 20, 20))).data)
    blue = pixels(engine.generate(job, photo((20, 20, 220))).data)

    assert np.array_equal(red, again)  # the same photo and seed: the same picture
    # Another photo: another picture. (The tiny VAE's random weights keep no colour, and its
    # one step of denoising adds much noise: about 3 grey levels apart on average, where two
    # seeds are about 45 apart. Exactly 0 for the same photo, above.)
    assert np.abs(red - blue).mean() > 1.0


def test_a_photo_job_draws_other_than_the_text_job_of_the_same_prompt_and_seed(engine: Engine) -> None:
    text = pixels(engine.generate(make_job(seed=5)).data)
    from_photo = pixels(engine.generate(make_job(seed=5, input_image=PHOTO), photo((30, 160, 30))).data)

    assert text.shape == from_photo.shape  # the plan's size, whatever the photo's
    assert np.abs(text - from_photo).mean() > 5.0


def test_the_plan_separates_photo_jobs_from_text_jobs_and_strengths_from_each_other(engine: Engine) -> None:
    text = engine.plan_for(make_job())
    default = engine.plan_for(make_job(input_image=PHOTO))
    own = engine.plan_for(make_job(input_image=PHOTO, strength=0.3))

    assert text.strength is None
    assert default.strength == STYLES_BY_ID["ghibli"].strength
    assert own.strength == 0.3
    assert len({text, default, own}) == 3
    assert replace(own, strength=None) == text  # all else is the text job's plan
    with pytest.raises(ValueError, match="one plan"):
        engine.generate_batch([make_job(), make_job(input_image=PHOTO)], [None, photo((1, 2, 3))])


def test_each_style_has_a_strength_from_half_to_seven_tenths() -> None:
    assert all(0.5 <= style.strength <= 0.7 for style in STYLES_BY_ID.values())
    with pytest.raises(ValueError, match="strength"):
        replace(STYLES_BY_ID["pixel"], strength=0)


def test_a_photo_job_needs_its_photo_and_a_text_job_none(engine: Engine) -> None:
    with pytest.raises(ValueError, match="input image"):
        engine.draw_batch([make_job(input_image=PHOTO)])
    with pytest.raises(ValueError, match="input image"):
        engine.draw_batch([make_job()], [photo((1, 2, 3))])


def test_photo_jobs_in_one_batch_draw_what_each_draws_alone() -> None:
    engine = lossless(load_engine(None, device="cpu", warm_up=False))
    jobs = [make_job(job_id=f"b{n}", input_image=PHOTO, seed=n) for n in range(3)]
    photos = [photo((60 * n, 90, 200 - 60 * n)) for n in range(3)]

    alone = [engine.generate(job, init) for job, init in zip(jobs, photos, strict=True)]
    batched = engine.generate_batch(jobs, photos)

    # As for text jobs (test_engine): at most one level of 255 from the CPU's batched kernels.
    for one, together in zip(alone, batched, strict=True):
        assert not isinstance(together, Exception)
        assert np.abs(pixels(one.data) - pixels(together.data)).max() <= 1


def test_the_style_lora_stays_on_while_a_photo_is_drawn(engine: Engine) -> None:
    unet = engine.pipeline_for("pixel").unet
    seen: list[list[str]] = []
    hook = unet.register_forward_pre_hook(lambda module, args: seen.append(_active_adapters(module)))
    try:
        engine.generate(make_job(style="pixel", input_image=PHOTO), photo((10, 10, 10)))
    finally:
        hook.remove()
    wanted = sorted(name for name, _ in engine.plan_for(make_job(style="pixel", input_image=PHOTO)).adapters)
    assert seen and all(active == wanted for active in seen)
    assert "pixel-art" in wanted


def test_pixel_art_from_a_photo_gets_the_pixel_grid_as_text_does(engine: Engine) -> None:
    text = engine.generate(make_job(style="pixel"))
    from_photo = engine.generate(make_job(style="pixel", input_image=PHOTO), photo((200, 120, 40)))

    assert from_photo.encoding == text.encoding == "png"
    assert (from_photo.width, from_photo.height) == (text.width, text.height)  # scaled up by the grid
    assert from_photo.width > engine.styles["pixel"].size


@pytest.mark.parametrize(
    ("steps", "strength", "ran"), [(4, 0.6, 2), (4, 0.75, 3), (2, 0.1, 1), (2, 1.0, 2), (4, 0.2, 1)]
)
def test_an_img2img_call_runs_at_least_one_step(steps: int, strength: float, ran: int) -> None:
    asked = img2img_steps(steps, strength)
    assert asked >= steps and int(asked * strength) == ran


def test_an_input_is_fitted_to_the_plan_by_its_centre() -> None:
    wide = Image.new("RGB", (400, 100), (0, 0, 255))
    wide.paste((255, 0, 0), (150, 0, 250, 100))  # a red band in the middle

    fitted = fit(wide, 128, 128)

    assert fitted.size == (128, 128)
    red = np.asarray(fitted)[..., 0].mean()
    assert red > 200  # the centre was kept, the blue sides cropped off


def encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_a_stored_input_is_opened_as_rgb() -> None:
    opened = open_input(encoded(Image.new("L", (64, 48), 90), "PNG"))
    assert (opened.mode, opened.size) == ("RGB", (64, 48))


@pytest.mark.parametrize(
    "data",
    [
        b"not an image at all",
        encoded(Image.new("RGB", (64, 64)), "JPEG")[:200],  # truncated
        encoded(Image.new("RGB", (64, 64)), "GIF"),  # not a format we store
        encoded(Image.new("1", (5000, 4000)), "PNG"),  # 20 megapixels: over the limit
    ],
)
def test_an_input_that_is_no_sane_picture_is_refused(data: bytes) -> None:
    with pytest.raises(BadInput):
        open_input(data)
