"""How each style is drawn, as data: the one file to edit to change a model or a recipe. Pure.

Every style is an SD 1.5-family model, so one fast path serves all three: the LCM-LoRA
(latent-consistency/lcm-lora-sdv1-5) turns any SD 1.5 UNet into a 4-8 step model. Each style
also has a quality path (a classic scheduler, more steps, real classifier-free guidance) and an
economy recipe (fewest steps, smaller picture) that the ops mode "economy" selects.

The weights are never fetched at run time: `python -m gpu_service.prepare_models` copies every
model below, at its revision, into the models bucket (layout in gpu_service/layout.py) and
records the commit each revision resolved to in the bucket's manifest.json.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from gpu_service.contract import ASPECTS, MODES, STYLES

# A branch, not a commit: the preparation command resolves it and writes the commit it got into
# the models bucket's manifest.json. Replace it here with that commit to pin the model, so that
# a rebuilt bucket holds the same weights and a seed keeps drawing the same picture.
UNPINNED = "main"

# SD 1.5 works in 8x8-pixel latents and its UNet halves them three times: sizes that are
# multiples of 64 avoid the padding artefacts of odd latent sizes.
SIZE_STEP = 64

# Names the engine maps to diffusers scheduler classes (gpu_service/schedulers.py).
SCHEDULERS = ("lcm", "dpmpp_2m_karras", "euler_a", "ddim")
PATHS = ("fast", "quality")
ENCODINGS = ("png", "jpeg", "webp")


@dataclass(frozen=True)
class ModelSource:
    """A Hugging Face Hub repository at a revision (a commit hash once pinned)."""

    repo: str
    revision: str = UNPINNED
    # For a LoRA repository: the one weights file to take from it.
    weight_name: str | None = None

    @property
    def pinned(self) -> bool:
        return len(self.revision) == 40 and all(c in "0123456789abcdef" for c in self.revision)


@dataclass(frozen=True)
class Lora:
    name: str  # the adapter's name in the pipeline, and its folder loras/<name>/ in the models folder
    source: ModelSource
    scale: float = 1.0


@dataclass(frozen=True)
class Recipe:
    scheduler: str  # a name in SCHEDULERS; "lcm" also switches the LCM-LoRA on
    steps: int
    # 1.0 switches classifier-free guidance off: one UNet pass per step instead of two, and the
    # negative prompt is not used. LCM is distilled to work that way.
    guidance: float

    @property
    def uses_lcm(self) -> bool:
        return self.scheduler == "lcm"


@dataclass(frozen=True)
class Plan:
    """Everything a pipeline call depends on except the prompts and seeds. Jobs with equal
    plans can share one batched pipeline call."""

    style: str
    recipe_name: str  # fast | quality | economy
    scheduler: str
    steps: int
    guidance: float
    width: int
    height: int
    adapters: tuple[tuple[str, float], ...]  # (LoRA name, scale) switched on for this call


@dataclass(frozen=True)
class Style:
    id: str
    model: ModelSource  # UNet, text encoder, tokenizer and scheduler config
    prompt_template: str  # `{prompt}` is replaced by the user's prompt
    negative_prompt: str
    size: int  # side of a square picture; portrait and landscape stretch one side (size_for)
    fast: Recipe
    quality: Recipe
    economy: Recipe
    economy_size: int
    postprocess: str  # a name in postprocess.POSTPROCESSORS
    encoding: str  # a name in ENCODINGS
    path: str = "fast"  # the recipe of a normal-mode job: fast or quality
    lora: Lora | None = None  # a style LoRA on top of the model, always on for this style
    vae: ModelSource | None = None  # a VAE to use instead of the model's own

    def __post_init__(self) -> None:
        if self.path not in PATHS:
            raise ValueError(f"style {self.id}: path must be one of {PATHS}, not {self.path!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"style {self.id}: encoding must be one of {ENCODINGS}, not {self.encoding!r}")
        for recipe in (self.fast, self.quality, self.economy):
            if recipe.scheduler not in SCHEDULERS or recipe.steps < 1:
                raise ValueError(f"style {self.id}: bad recipe {recipe}")
        for side in (self.size, self.economy_size):
            if side % SIZE_STEP:
                raise ValueError(f"style {self.id}: sizes must be multiples of {SIZE_STEP}, not {side}")

    def prompt_for(self, user_prompt: str) -> str:
        return self.prompt_template.format(prompt=user_prompt.strip())

    def negative_prompt_for(self, user_negative: str) -> str:
        """The style's negative prompt, then the user's own, if any."""
        return ", ".join(part for part in (self.negative_prompt, user_negative.strip()) if part)

    def recipe_for(self, mode: str) -> tuple[str, Recipe]:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if mode == "economy":
            return "economy", self.economy
        return self.path, self.fast if self.path == "fast" else self.quality

    def size_for(self, aspect: str, mode: str = "normal") -> tuple[int, int]:
        """(width, height) for an aspect of the contract: one side 1.5 times the other."""
        if aspect not in ASPECTS:
            raise ValueError(f"unknown aspect {aspect!r}")
        side = self.economy_size if mode == "economy" else self.size
        longer = _round_to_step(side * 3 // 2)
        if aspect == "portrait":
            return side, longer
        if aspect == "landscape":
            return longer, side
        return side, side

    def plan(self, *, mode: str, aspect: str) -> Plan:
        name, recipe = self.recipe_for(mode)
        width, height = self.size_for(aspect, mode)
        adapters = [] if self.lora is None else [(self.lora.name, self.lora.scale)]
        if recipe.uses_lcm:
            adapters.append((LCM_LORA.name, LCM_LORA.scale))
        return Plan(
            style=self.id,
            recipe_name=name,
            scheduler=recipe.scheduler,
            steps=recipe.steps,
            guidance=recipe.guidance,
            width=width,
            height=height,
            adapters=tuple(adapters),
        )

    def plans(self) -> list[Plan]:
        """Every plan this style can run with its current path, square: what warm-up draws and
        what decides whether its LoRAs may be fused into the UNet."""
        return [self.plan(mode=mode, aspect="square") for mode in MODES]

    def with_path(self, path: str) -> Style:
        return replace(self, path=path)

    def scaled(self, *, size: int, economy_size: int, steps: int) -> Style:
        """The same style drawn smaller and in at most `steps` steps (the tiny CPU pipeline)."""

        def fewer(recipe: Recipe) -> Recipe:
            return replace(recipe, steps=min(recipe.steps, steps))

        return replace(
            self,
            size=size,
            economy_size=economy_size,
            fast=fewer(self.fast),
            quality=fewer(self.quality),
            economy=fewer(self.economy),
        )


def _round_to_step(pixels: int) -> int:
    return max(SIZE_STEP, round(pixels / SIZE_STEP) * SIZE_STEP)


# The few-step fast path for every SD 1.5 UNet (its card: 4 to 8 steps, guidance 1 to 2).
LCM_LORA = Lora(
    "lcm",
    # Pinned: the commit the Hub listed as main's head (file pytorch_lora_weights.safetensors).
    ModelSource(
        "latent-consistency/lcm-lora-sdv1-5",
        revision="cf2fced511dbe7e26c8d1d397e728fbab875db4b",
        weight_name="pytorch_lora_weights.safetensors",
    ),
)

# SD's autoencoder with its decoder fine-tuned (same latent space, fewer artefacts in faces and
# text); Realistic Vision's card asks for it. One VAE for all styles is also one copy in memory.
SD_VAE_FT_MSE = ModelSource("stabilityai/sd-vae-ft-mse")

# The diffusers safety checker (a CLIP image classifier) and its feature extractor, copied into
# every style's folder; a flagged picture is refused, never uploaded (engine.UnsafeOutput).
SAFETY_CHECKER = ModelSource("stable-diffusion-v1-5/stable-diffusion-v1-5")

# One economy recipe for all: LCM's minimum steps, no guidance, and a 384-pixel side (about
# 0.56 of the pixels of 512): roughly a third of a normal fast job's GPU time.
ECONOMY = Recipe(scheduler="lcm", steps=4, guidance=1.0)
ECONOMY_SIZE = 384
FAST = Recipe(scheduler="lcm", steps=6, guidance=1.0)

GHIBLI = Style(
    id="ghibli",
    # Fine-tuned on Studio Ghibli film stills; "ghibli style" is its trigger phrase. Pinned to
    # the commit that added its safetensors weights (main's head when this was written).
    model=ModelSource("nitrosocke/Ghibli-Diffusion", revision="75f68c4d7a51cf573ded51526297fd2b8cdb84ff"),
    prompt_template="ghibli style, {prompt}",
    negative_prompt="lowres, blurry, bad anatomy, extra fingers, text, watermark, signature",
    size=512,
    fast=FAST,
    quality=Recipe(scheduler="dpmpp_2m_karras", steps=25, guidance=7.0),
    economy=ECONOMY,
    economy_size=ECONOMY_SIZE,
    postprocess="none",
    encoding="jpeg",
    vae=SD_VAE_FT_MSE,
)

REALISTIC = Style(
    id="realistic",
    # A photorealistic SD 1.5 fine-tune, in diffusers layout with safetensors weights. Pinned to
    # a commit whose tree holds them; "noVAE": it expects an external VAE (its card: ft-MSE).
    model=ModelSource(
        "SG161222/Realistic_Vision_V5.1_noVAE", revision="672a55008829cf5e581a6a33159daf03c44a0f0b"
    ),
    prompt_template="RAW photo, {prompt}, dslr, soft lighting, high quality, film grain",
    negative_prompt="cartoon, anime, drawing, painting, 3d render, cgi, deformed, bad anatomy, blurry, text",
    size=512,
    fast=FAST,
    # Its card recommends a low guidance scale.
    quality=Recipe(scheduler="dpmpp_2m_karras", steps=25, guidance=5.0),
    economy=ECONOMY,
    economy_size=ECONOMY_SIZE,
    postprocess="none",
    encoding="jpeg",
    vae=SD_VAE_FT_MSE,
)

PIXEL = Style(
    id="pixel",
    # Stable Diffusion 1.5 itself plus a pixel-art LoRA for it ("PixArFK" is its trigger). Its
    # output only looks like pixel art, so post-processing snaps it onto a real grid with a real
    # palette. Check the LoRA's licence (a bespoke one) before a public deployment.
    model=ModelSource("stable-diffusion-v1-5/stable-diffusion-v1-5"),
    lora=Lora(
        "pixel-art",
        ModelSource(
            "artificialguybr/pixelartredmond-1-5v-pixel-art-loras-for-sd-1-5",
            weight_name="PixelArtRedmond15V-PixelArt-PIXARFK.safetensors",
        ),
    ),
    prompt_template="pixel art, PixArFK, {prompt}",
    negative_prompt="blurry, smooth shading, photo, 3d render, text, watermark",
    size=512,
    fast=FAST,
    quality=Recipe(scheduler="euler_a", steps=25, guidance=7.5),
    economy=ECONOMY,
    economy_size=ECONOMY_SIZE,
    postprocess="pixel_grid",
    # Lossless: flat cells and a 16-colour palette compress far better as PNG than as JPEG.
    encoding="png",
    vae=SD_VAE_FT_MSE,
)

STYLES_BY_ID: dict[str, Style] = {style.id: style for style in (GHIBLI, REALISTIC, PIXEL)}
if tuple(STYLES_BY_ID) != STYLES:
    raise RuntimeError(f"styles {tuple(STYLES_BY_ID)} do not match the contract's {STYLES}")


def with_paths(styles: dict[str, Style], paths: dict[str, str]) -> dict[str, Style]:
    """The styles with the recipe paths an operator chose (STYLE_PATHS), others unchanged."""
    unknown = set(paths) - set(styles)
    if unknown:
        raise ValueError(f"paths for unknown styles {sorted(unknown)}")
    return {style_id: style.with_path(paths.get(style_id, style.path)) for style_id, style in styles.items()}


def loras_for(styles: Iterable[Style]) -> dict[str, Lora]:
    """Every LoRA the styles' plans switch on, by adapter name."""
    loras: dict[str, Lora] = {}
    for style in styles:
        if style.lora is not None:
            loras[style.lora.name] = style.lora
        if any(plan.adapters and LCM_LORA.name in dict(plan.adapters) for plan in style.plans()):
            loras[LCM_LORA.name] = LCM_LORA
    return loras
