"""How each style is drawn, as data. Pure: no torch, no I/O.

Every style is an SD 1.5-family text-to-image model plus the settings its model card
recommends. The weights are not fetched at run time: an operator copies each model (at the
pinned revision) into the models bucket as `<style>/` in diffusers layout, and the service
loads that folder (see engine.load_engine).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gpu_service.contract import ASPECTS, STYLES

# Placeholder until each model is pinned to a commit of its Hugging Face repository; pinning
# makes a rebuilt models bucket hold the same weights, so a seed draws the same picture.
UNPINNED = "main"

# SD 1.5 works in 8x8-pixel latents and its UNet halves them three times: sizes that are
# multiples of 64 avoid the padding artefacts of odd latent sizes.
SIZE_STEP = 64


@dataclass(frozen=True)
class ModelSource:
    repo: str
    revision: str = UNPINNED


@dataclass(frozen=True)
class Style:
    id: str
    model: ModelSource
    prompt_template: str  # `{prompt}` is replaced by the user's prompt
    negative_prompt: str
    steps: int
    guidance: float
    width: int  # of a square picture; portrait and landscape stretch one side (size_for)
    height: int
    postprocess: str  # a name in postprocess.POSTPROCESSORS

    def prompt_for(self, user_prompt: str) -> str:
        return self.prompt_template.format(prompt=user_prompt.strip())

    def negative_prompt_for(self, user_negative: str) -> str:
        """The style's negative prompt, then the user's own, if any."""
        return ", ".join(part for part in (self.negative_prompt, user_negative.strip()) if part)

    def size_for(self, aspect: str) -> tuple[int, int]:
        """(width, height) for an aspect of the contract: one side 1.5 times the other."""
        if aspect not in ASPECTS:
            raise ValueError(f"unknown aspect {aspect!r}")
        longer = _round_to_step(max(self.width, self.height) * 3 // 2)
        if aspect == "portrait":
            return self.width, longer
        if aspect == "landscape":
            return longer, self.height
        return self.width, self.height

    def scaled(self, *, size: int, steps: int) -> Style:
        """The same style drawn smaller and in fewer steps (the tiny CPU pipeline uses this)."""
        return replace(self, width=size, height=size, steps=steps)


def _round_to_step(pixels: int) -> int:
    return max(SIZE_STEP, round(pixels / SIZE_STEP) * SIZE_STEP)


GHIBLI = Style(
    id="ghibli",
    # Fine-tuned on Studio Ghibli film stills; "ghibli style" is its trigger phrase.
    model=ModelSource("nitrosocke/Ghibli-Diffusion"),
    prompt_template="ghibli style, {prompt}",
    negative_prompt="lowres, blurry, bad anatomy, extra fingers, text, watermark, signature",
    steps=25,
    guidance=7.0,
    width=512,
    height=512,
    postprocess="none",
)

REALISTIC = Style(
    id="realistic",
    # A photorealistic SD 1.5 fine-tune; "noVAE" means it expects SD's own VAE, which its
    # diffusers folder includes. Its card recommends a low guidance scale.
    model=ModelSource("SG161222/Realistic_Vision_V5.1_noVAE"),
    prompt_template="RAW photo, {prompt}, dslr, soft lighting, high quality, film grain",
    negative_prompt="cartoon, anime, drawing, painting, 3d render, cgi, deformed, bad anatomy, blurry, text",
    steps=25,
    guidance=5.0,
    width=512,
    height=512,
    postprocess="none",
)

PIXEL = Style(
    id="pixel",
    # An SD 1.5 fine-tune on pixel art; "16bitscene" is its trigger for scenes. Its output only
    # looks like pixel art, so post-processing snaps it onto a real grid with a real palette.
    model=ModelSource("PublicPrompts/All-In-One-Pixel-Model"),
    prompt_template="16bitscene, {prompt}, pixel art",
    negative_prompt="blurry, smooth shading, photo, 3d render, text, watermark",
    steps=25,
    guidance=7.5,
    width=512,
    height=512,
    postprocess="pixel_grid",
)

STYLES_BY_ID: dict[str, Style] = {style.id: style for style in (GHIBLI, REALISTIC, PIXEL)}
if tuple(STYLES_BY_ID) != STYLES:
    raise RuntimeError(f"styles {tuple(STYLES_BY_ID)} do not match the contract's {STYLES}")
