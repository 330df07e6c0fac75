"""How each style is drawn, as data: the one file to edit to change a model or a recipe. Pure.

Every style is a Stable Diffusion XL-family model drawn at 1024 px (and SDXL's portrait and
landscape buckets), with few-step LoRAs for speed:

    fast     SDXL-Lightning's 4-step LoRA: 4 UNet passes, no classifier-free guidance, so no
             negative prompt (the default for a job without `--no ...`)
    guided   LCM-LoRA for SDXL at guidance 1.5: 8 steps of 2 passes, and the negative prompt
             is honoured (the default path for a job that says `--no ...`)
    quality  the plain fine-tune with a classic sampler and real guidance (STYLE_PATHS)
    economy  SDXL-Lightning's 2-step LoRA: 2 passes, no negative prompt (ops mode "economy")

Realistic is its own fine-tune (RealVisXL); Ghibli and Pixel Art are LoRAs on one shared SDXL
base UNet. Each licence below is the one its model card declares: nothing non-commercial and
nothing gated (no DMD2, cc-by-nc; no SDXL-Turbo, gated and non-commercial).

The weights are never fetched at run time: `python -m gpu_service.prepare_models` copies every
model below, at its revision, into the models bucket (layout in gpu_service/layout.py) and
records the commit each revision resolved to in the bucket's manifest.json.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from gpu_service.contract import ASPECTS, MODES, STYLES

# A branch, not a commit: the preparation command resolves it, logs a WARNING and writes the
# commit it got into the models bucket's manifest.json. Only used where no commit could be
# read from the Hub's public pages when this was written; replace it with the manifest's.
UNPINNED = "main"

# SDXL works in 8x8-pixel latents and its UNet halves them twice: its training buckets are
# multiples of 64. Smaller than 768 px it no longer composes well.
SIZE_STEP = 64
MIN_SIDE = 768

# Names the engine maps to diffusers scheduler classes (gpu_service/schedulers.py).
SCHEDULERS = ("lcm", "euler", "dpmpp_2m_karras", "euler_a", "ddim")
TIMESTEP_SPACINGS = ("leading", "trailing", "linspace")
PATHS = ("fast", "quality")
ENCODINGS = ("png", "jpeg", "webp")


@dataclass(frozen=True)
class ModelSource:
    """A Hugging Face Hub repository at a revision (a commit hash once pinned)."""

    repo: str
    revision: str = UNPINNED
    # For a LoRA repository: the one weights file to take from it.
    weight_name: str | None = None
    # "fp16": take each component's .fp16.safetensors file (half the download; what the GPU
    # runs anyway), saved under the plain name.
    variant: str | None = None
    # As the model card declares it (its `license:`), checked when the model was chosen.
    licence: str = ""

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
    scheduler: str  # a name in SCHEDULERS
    steps: int
    # At most 1 switches classifier-free guidance off: one UNet pass per step instead of two,
    # and no negative prompt. Few-step distillations are made to work that way.
    guidance: float
    lora: Lora | None = None  # the few-step LoRA this recipe needs, if any
    timestep_spacing: str | None = None  # None: the model's own

    @property
    def applies_negative(self) -> bool:
        return self.guidance > 1


@dataclass(frozen=True)
class Plan:
    """Everything a pipeline call depends on except the prompts and seeds. Jobs with equal
    plans can share one batched pipeline call."""

    style: str
    recipe_name: str  # fast | guided | quality | economy
    scheduler: str
    steps: int
    guidance: float
    width: int
    height: int
    adapters: tuple[tuple[str, float], ...]  # (LoRA name, scale) switched on for this call
    timestep_spacing: str | None = None
    # img2img: how much of the input is redrawn (0 < strength <= 1); None draws from noise.
    # Part of the plan, so a batch never mixes a photo job with a text job or two strengths.
    strength: float | None = None

    @property
    def applies_negative(self) -> bool:
        return self.guidance > 1


@dataclass(frozen=True)
class Style:
    id: str
    model: ModelSource  # UNet, text encoders, tokenizers and scheduler config
    prompt_template: str  # `{prompt}` is replaced by the user's prompt
    negative_prompt: str  # used by the recipes with guidance only
    size: int  # side of a square picture; portrait and landscape are SDXL's buckets (size_for)
    fast: Recipe
    guided: Recipe  # the fast path of a job with a negative prompt
    quality: Recipe
    economy: Recipe
    postprocess: str  # a name in postprocess.POSTPROCESSORS
    encoding: str  # a name in ENCODINGS
    path: str = "fast"  # the recipe of a normal-mode job: fast or quality
    lora: Lora | None = None  # a style LoRA on top of the model, always on for this style
    vae: ModelSource | None = None  # a VAE to use instead of the model's own
    # img2img strength of a job from a photo that names none (0 < strength <= 1): the share of
    # the denoising redone, so the higher, the less of the photo is kept. On the few-step
    # recipes the pipeline runs int(steps * strength) of the steps (at least one).
    strength: float = 0.6

    def __post_init__(self) -> None:
        if self.path not in PATHS:
            raise ValueError(f"style {self.id}: path must be one of {PATHS}, not {self.path!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"style {self.id}: encoding must be one of {ENCODINGS}, not {self.encoding!r}")
        for recipe in self.recipes().values():
            if (
                recipe.scheduler not in SCHEDULERS
                or recipe.steps < 1
                or recipe.guidance < 0
                or recipe.timestep_spacing not in (None, *TIMESTEP_SPACINGS)
            ):
                raise ValueError(f"style {self.id}: bad recipe {recipe}")
        if not self.guided.applies_negative or not self.quality.applies_negative:
            raise ValueError(f"style {self.id}: the guided and quality recipes need guidance above 1")
        if self.size % 16:
            raise ValueError(f"style {self.id}: the size must be a multiple of 16, not {self.size}")
        if not 0 < self.strength <= 1:
            raise ValueError(f"style {self.id}: strength must be in (0, 1], not {self.strength}")

    def recipes(self) -> dict[str, Recipe]:
        return {"fast": self.fast, "guided": self.guided, "quality": self.quality, "economy": self.economy}

    def prompt_for(self, user_prompt: str) -> str:
        return self.prompt_template.format(prompt=user_prompt.strip())

    def negative_prompt_for(self, user_negative: str) -> str:
        """The style's negative prompt, then the user's own, if any."""
        return ", ".join(part for part in (self.negative_prompt, user_negative.strip()) if part)

    def recipe_for(self, mode: str, *, negative: bool = False) -> tuple[str, Recipe]:
        """The recipe of a job: economy mode takes the economy recipe (which may ignore a
        negative prompt: the caption then does not claim it); otherwise the style's path, and on
        the fast path a job with a negative prompt takes the guided recipe that honours it."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        if mode == "economy":
            return "economy", self.economy
        if self.path == "quality":
            return "quality", self.quality
        if negative and not self.fast.applies_negative:
            return "guided", self.guided
        return "fast", self.fast

    def size_for(self, aspect: str) -> tuple[int, int]:
        """(width, height) for an aspect of the contract: SDXL's training buckets, 1024x1024,
        896x1152 and 1152x896 (the sides 7/8 and 9/8 of the square's)."""
        if aspect not in ASPECTS:
            raise ValueError(f"unknown aspect {aspect!r}")
        short, long = self.size * 7 // 8, self.size * 9 // 8
        if aspect == "portrait":
            return short, long
        if aspect == "landscape":
            return long, short
        return self.size, self.size

    def plan(self, *, mode: str, aspect: str, negative: bool = False, strength: float | None = None) -> Plan:
        """The plan of a job; `strength` for one drawn from an input image (img2img)."""
        name, recipe = self.recipe_for(mode, negative=negative)
        width, height = self.size_for(aspect)
        adapters = [] if self.lora is None else [(self.lora.name, self.lora.scale)]
        if recipe.lora is not None:
            adapters.append((recipe.lora.name, recipe.lora.scale))
        return Plan(
            style=self.id,
            recipe_name=name,
            scheduler=recipe.scheduler,
            steps=recipe.steps,
            guidance=recipe.guidance,
            width=width,
            height=height,
            adapters=tuple(adapters),
            timestep_spacing=recipe.timestep_spacing,
            strength=strength,
        )

    def plans(self) -> list[Plan]:
        """Every plan this style can serve with its current path: each aspect of each recipe a
        job can reach. What warm-up draws, so that no user's job is a shape's first."""
        found: dict[Plan, None] = {}
        for mode in MODES:
            for negative in (False, True):
                for aspect in ASPECTS:
                    found[self.plan(mode=mode, aspect=aspect, negative=negative)] = None
        return list(found)

    def with_path(self, path: str) -> Style:
        return replace(self, path=path)

    def scaled(self, *, size: int, steps: int) -> Style:
        """The same style drawn smaller and in at most `steps` steps (the tiny CPU pipeline)."""

        def fewer(recipe: Recipe) -> Recipe:
            return replace(recipe, steps=min(recipe.steps, steps))

        return replace(
            self,
            size=size,
            fast=fewer(self.fast),
            guided=fewer(self.guided),
            quality=fewer(self.quality),
            economy=fewer(self.economy),
        )


# --- the models, each with the licence its model card declares ---------------------------------

# Stable Diffusion XL base 1.0: the base of Ghibli and Pixel Art. CreativeML Open RAIL++-M
# (commercial use allowed, with its use restrictions); not gated.
SDXL_BASE = ModelSource(
    "stabilityai/stable-diffusion-xl-base-1.0",
    revision="462165984030d82259a11f4367a4eed129e94a7b",
    variant="fp16",
    licence="openrail++",
)

# SDXL's VAE fine-tuned to stay finite in fp16 (the original overflows to NaN, so a black
# picture, unless run in fp32): same latent space, one copy for all styles. MIT.
SDXL_VAE_FP16_FIX = ModelSource(
    "madebyollin/sdxl-vae-fp16-fix", revision="207b116dae70ace3637169f1ddd2434b91b3a8cd", licence="mit"
)

# SDXL has no safety checker of its own: the diffusers one (a CLIP image classifier, from
# SD 1.5's repository) runs on the decoded pictures (gpu_service/safety.py). CreativeML
# OpenRAIL-M.
SAFETY_CHECKER = ModelSource(
    "stable-diffusion-v1-5/stable-diffusion-v1-5",
    revision="451f4fe16113bff5a5d2269ed5ad43b0592e9a14",
    licence="creativeml-openrail-m",
)

# SDXL-Lightning (ByteDance), progressive adversarial distillation of SDXL base: its card's
# recipe is EulerDiscreteScheduler with timestep_spacing="trailing", guidance_scale=0 and as
# many steps as the LoRA's name says; the LoRAs work on SDXL fine-tunes too. Open RAIL++-M.
LIGHTNING_REVISION = "c9a24f48e1c025556787b0c58dd67a091ece2e44"
LIGHTNING_4 = Lora(
    "lightning-4",
    ModelSource(
        "ByteDance/SDXL-Lightning",
        revision=LIGHTNING_REVISION,
        weight_name="sdxl_lightning_4step_lora.safetensors",
        licence="openrail++",
    ),
)
LIGHTNING_2 = Lora(
    "lightning-2",
    ModelSource(
        "ByteDance/SDXL-Lightning",
        revision=LIGHTNING_REVISION,
        weight_name="sdxl_lightning_2step_lora.safetensors",
        licence="openrail++",
    ),
)
# LCM-LoRA for SDXL: its card uses LCMScheduler with 2 to 8 steps and guidance 1 to 2 (above
# 1 it is real classifier-free guidance, so the negative prompt counts); the pixel-art-xl card
# recommends exactly this: 8 steps, guidance 1.5. Open RAIL++-M.
LCM_XL = Lora(
    "lcm",
    ModelSource(
        "latent-consistency/lcm-lora-sdxl",
        revision="e4f4bc876032ad70aa9d241af2a2f33db0f3f048",
        weight_name="pytorch_lora_weights.safetensors",
        licence="openrail++",
    ),
)

FAST = Recipe(scheduler="euler", steps=4, guidance=0.0, lora=LIGHTNING_4, timestep_spacing="trailing")
GUIDED = Recipe(scheduler="lcm", steps=8, guidance=1.5, lora=LCM_XL)
ECONOMY = Recipe(scheduler="euler", steps=2, guidance=0.0, lora=LIGHTNING_2, timestep_spacing="trailing")
SIZE = 1024

REALISTIC = Style(
    id="realistic",
    # RealVisXL V5.0, a photorealistic SDXL fine-tune, in diffusers layout with fp16 files;
    # pinned to the commit that uploaded them. Open RAIL++-M. Its card asks for 25+ steps of
    # DPM++ 2M Karras (the quality path) and gives the negative prompt below.
    model=ModelSource(
        "SG161222/RealVisXL_V5.0",
        revision="17f70fbda0897972c4637aa3a30ea924b8ed8c69",
        variant="fp16",
        licence="openrail++",
    ),
    prompt_template="RAW photo, {prompt}, 8k uhd, dslr, soft lighting, high quality, film grain",
    negative_prompt="(face asymmetry, eyes asymmetry, deformed eyes, open mouth), cartoon, drawing, text",
    size=SIZE,
    fast=FAST,
    guided=GUIDED,
    quality=Recipe(scheduler="dpmpp_2m_karras", steps=25, guidance=5.0),
    economy=ECONOMY,
    postprocess="none",
    encoding="jpeg",
    vae=SDXL_VAE_FP16_FIX,
    # A photo in, a photo out: keep most of it (composition, faces). RealVisXL's card gives no
    # img2img strength; 0.5 is the diffusers image-to-image guide's own example
    # (huggingface.co/docs/diffusers/using-diffusers/img2img, "Strength").
    strength=0.5,
)

GHIBLI = Style(
    id="ghibli",
    # SDXL base plus a Studio Ghibli-look slider LoRA (MIT, its card). Its card applies it at
    # strength 2 with the trigger words "Studio Ghibli style". No full commit of it could be
    # read from the Hub's public pages: its commit history
    # (huggingface.co/ntc-ai/SDXL-LoRA-slider.Studio-Ghibli-style/commits/main) shows only
    # short ids, 1c83757 (Dec 15, 2023: "Update README, safetensors and PNGs", the weights)
    # and the head 20e726d (README only), and no page or project found quotes the 40-hex one.
    # No replacement qualified: artificialguybr/StudioGhibli.Redmond-V2 (commit
    # 817c828e2b732b8e4776f922361b1708b27f4684) declares no licence on its card, and
    # artificialguybr/StudioGhibliRedmond (creativeml-openrail-m) calls itself "a
    # non-commercial, fan-made creation". UNPINNED until the manifest names one: the commit
    # it records should start with 20e726d (or 1c83757 for the same weights).
    model=SDXL_BASE,
    lora=Lora(
        "ghibli",
        ModelSource(
            "ntc-ai/SDXL-LoRA-slider.Studio-Ghibli-style",
            weight_name="Studio Ghibli style.safetensors",
            licence="mit",
        ),
        scale=2.0,
    ),
    prompt_template="{prompt}, Studio Ghibli style, hand-drawn anime film still, soft colours",
    negative_prompt="photo, 3d render, lowres, blurry, text, watermark, signature",
    size=SIZE,
    fast=FAST,
    guided=GUIDED,
    quality=Recipe(scheduler="dpmpp_2m_karras", steps=25, guidance=6.0),
    economy=ECONOMY,
    postprocess="none",
    encoding="jpeg",
    vae=SDXL_VAE_FP16_FIX,
    # A photo redrawn as a film still: more freedom than a photo's retouch, so that the slider
    # LoRA's look (flat colours, drawn lines) shows, and still the photo's layout. The slider's
    # card gives no img2img strength; 0.65 is the middle of issue 13's 0.5 to 0.7.
    strength=0.65,
)

PIXEL = Style(
    id="pixel",
    # SDXL base plus nerijs/pixel-art-xl (CreativeML OpenRAIL-M), pinned to the commit that
    # uploaded its weights. Its card: LoRA strength 1.2, "pixel" in the prompt, negative "3d
    # render, realistic", and a nearest-neighbour downscale for pixel-perfect output, which
    # the pixel grid (postprocess.pixel_grid) does properly.
    model=SDXL_BASE,
    lora=Lora(
        "pixel-art",
        ModelSource(
            "nerijs/pixel-art-xl",
            revision="ff35fec8148216e65984f6fc84caf76fb6821a18",
            weight_name="pixel-art-xl.safetensors",
            licence="creativeml-openrail-m",
        ),
        scale=1.2,
    ),
    prompt_template="pixel, pixel art, {prompt}",
    negative_prompt="3d render, realistic, blurry, smooth shading, photo, text, watermark",
    size=SIZE,
    fast=FAST,
    guided=GUIDED,
    quality=Recipe(scheduler="euler_a", steps=25, guidance=6.0),
    economy=ECONOMY,
    postprocess="pixel_grid",
    # Lossless: flat cells and a small palette compress far better as PNG than as JPEG.
    encoding="png",
    vae=SDXL_VAE_FP16_FIX,
    # Pixel art departs most from a photo (flat cells, a small palette): the top of issue 13's
    # 0.5 to 0.7. pixel-art-xl's card gives no img2img strength. The grid applies as for text.
    strength=0.7,
)

STYLES_BY_ID: dict[str, Style] = {style.id: style for style in (GHIBLI, REALISTIC, PIXEL)}
if tuple(STYLES_BY_ID) != STYLES:
    raise RuntimeError(f"styles {tuple(STYLES_BY_ID)} do not match the contract's {STYLES}")
for _style in STYLES_BY_ID.values():
    for _side in _style.size_for("portrait") + (_style.size,):
        if _side % SIZE_STEP or _side < MIN_SIDE:
            raise RuntimeError(f"style {_style.id}: side {_side} is not a multiple of 64 of at least 768")


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
        used = {name for plan in style.plans() for name, _ in plan.adapters}
        candidates = [style.lora, *(recipe.lora for recipe in style.recipes().values())]
        for lora in candidates:
            if lora is not None and lora.name in used:
                loras[lora.name] = lora
    return loras


def sources(styles: Iterable[Style]) -> list[tuple[str, ModelSource]]:
    """(role, source) of every model the styles draw with: what the README's licence table and
    the preparation command list."""
    styles = list(styles)
    found: list[tuple[str, ModelSource]] = []
    for style in styles:
        found.append((f"{style.id} model", style.model))
        if style.vae is not None:
            found.append((f"{style.id} vae", style.vae))
    found += [(f"lora {name}", lora.source) for name, lora in loras_for(styles).items()]
    found.append(("safety checker", SAFETY_CHECKER))
    return found
