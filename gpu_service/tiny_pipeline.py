"""A tiny Stable Diffusion XL pipeline with random weights, built in code.

It has SDXL's real architecture at a fraction of the width: two CLIP text encoders (the second
with a projection, whose pooled output conditions the UNet), a UNet with SDXL's added
conditioning (`addition_embed_type="text_time"`: pooled text plus the original size, crop and
target size), a KL autoencoder and SDXL's scheduler. So the whole service runs its real code
path on a CPU in well under a second per picture, without downloading weights. The pictures
are coloured noise. This follows the components of diffusers' own SDXL CPU tests
(tests/pipelines/stable_diffusion_xl/test_stable_diffusion_xl.py).
"""

from __future__ import annotations

import json
import string
import tempfile
import warnings
from pathlib import Path

import torch
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
from transformers import (
    CLIPConfig,
    CLIPImageProcessor,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
)

MAX_TOKENS = 77  # CLIP's context length, as in SDXL
TEXT_WIDTH = 32  # hidden size of each tiny text encoder; the UNet sees both, concatenated
TIME_EMBED = 8  # SDXL embeds each of its 6 size numbers in 256 dimensions; 8 here
_START, _END = "<|startoftext|>", "<|endoftext|>"

# The attention projections of the UNet and of the text encoders: where few-step LoRAs and
# style LoRAs put their weights.
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]
TEXT_LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]


def build_tiny_pipeline(seed: int = 0) -> StableDiffusionXLPipeline:
    """The same weights for the same seed, so pictures are reproducible across processes."""
    tokenizer = tiny_tokenizer()
    # Seed before each component, as diffusers' tests do: each one's weights then do not
    # depend on how many random numbers the components before it happened to draw.
    torch.manual_seed(seed)
    unet = build_tiny_unet()
    torch.manual_seed(seed)
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
        sample_size=128,
        # SDXL's VAE scales its latents by 0.13025 (SD 1.5's by 0.18215).
        scaling_factor=0.13025,
    )
    text_config = _text_config(tokenizer)
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(text_config)
    torch.manual_seed(seed)
    text_encoder_2 = CLIPTextModelWithProjection(text_config)
    pipeline = StableDiffusionXLPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        text_encoder_2=text_encoder_2.eval(),
        tokenizer=tokenizer,
        tokenizer_2=tiny_tokenizer(),
        unet=unet.eval(),
        scheduler=EulerDiscreteScheduler.from_config(SDXL_SCHEDULER_CONFIG),
        # No invisible watermark (an extra package, and a visible change to every picture).
        add_watermarker=False,
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


# SDXL base 1.0's scheduler/scheduler_config.json: its noise schedule and default sampler.
SDXL_SCHEDULER_CONFIG: dict[str, object] = {
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "interpolation_type": "linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "sample_max_value": 1.0,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "trained_betas": None,
    "use_karras_sigmas": False,
}


def build_tiny_unet() -> UNet2DConditionModel:
    return UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=TIME_EMBED,
        transformer_layers_per_block=(1, 2),
        # The 6 size numbers, each embedded, plus the second encoder's pooled projection.
        projection_class_embeddings_input_dim=6 * TIME_EMBED + TEXT_WIDTH,
        # Both encoders' hidden states, side by side.
        cross_attention_dim=2 * TEXT_WIDTH,
        norm_num_groups=1,
    )


def _text_config(tokenizer: CLIPTokenizer) -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=TEXT_WIDTH,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=MAX_TOKENS,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        layer_norm_eps=1e-5,
        hidden_act="gelu",
        projection_dim=TEXT_WIDTH,
    )


def add_tiny_lora(
    pipeline: StableDiffusionXLPipeline, name: str, seed: int = 0, *, text_encoders: bool = False
) -> None:
    """A random LoRA adapter on the tiny UNet (and, with `text_encoders`, on both text
    encoders, as many style LoRAs have), standing in for a few-step or a style LoRA.

    Random rather than peft's default (an adapter that changes nothing), so that switching it
    on and off really changes the picture, as a real LoRA does.
    """
    from peft import LoraConfig

    torch.manual_seed(seed)
    with warnings.catch_warnings():
        # peft warns that a second adapter on one model is unusual; here it is the point.
        warnings.filterwarnings("ignore", message="Already found a `peft_config`")
        pipeline.unet.add_adapter(
            LoraConfig(r=4, lora_alpha=4, target_modules=LORA_TARGETS, init_lora_weights=False), name
        )
        if text_encoders:
            for encoder in (pipeline.text_encoder, pipeline.text_encoder_2):
                encoder.add_adapter(
                    LoraConfig(r=4, lora_alpha=4, target_modules=TEXT_LORA_TARGETS, init_lora_weights=False),
                    adapter_name=name,
                )


def tiny_lora_state_dict(name: str, seed: int = 0, *, text_encoders: bool = False) -> dict[str, torch.Tensor]:
    """The weights of add_tiny_lora(name, seed) in diffusers' LoRA format (unet.*,
    text_encoder.*, text_encoder_2.*), as a Hub repository of a diffusers LoRA holds them."""
    from peft.utils import get_peft_model_state_dict

    pipeline = build_tiny_pipeline()
    add_tiny_lora(pipeline, name, seed, text_encoders=text_encoders)
    layers = {"unet": get_peft_model_state_dict(pipeline.unet, adapter_name=name)}
    if text_encoders:
        layers["text_encoder"] = get_peft_model_state_dict(pipeline.text_encoder, adapter_name=name)
        layers["text_encoder_2"] = get_peft_model_state_dict(pipeline.text_encoder_2, adapter_name=name)
    return {f"{prefix}.{key}": value for prefix, state in layers.items() for key, value in state.items()}


def save_tiny_lora(
    folder: Path,
    name: str,
    weight_name: str,
    seed: int = 0,
    *,
    text_encoders: bool = False,
    kohya: bool = False,
) -> Path:
    """add_tiny_lora(name, seed)'s weights as one safetensors file: in diffusers' format, or
    with `kohya` in the Kohya / A1111 format most style LoRAs ship in (lora_unet_*, lora_te1_*,
    lora_te2_* keys with lora_down, lora_up and alpha), which diffusers converts on loading."""
    from safetensors.torch import save_file

    state = tiny_lora_state_dict(name, seed, text_encoders=text_encoders)
    if kohya:
        state = to_kohya(state)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / weight_name
    save_file({key: value.contiguous() for key, value in state.items()}, path)
    return path


_KOHYA_PREFIXES = {"unet": "lora_unet", "text_encoder": "lora_te1", "text_encoder_2": "lora_te2"}


def to_kohya(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A diffusers/peft LoRA state dict renamed the way kohya-ss's sd-scripts save one:
    `unet.down_blocks.1.attentions.0....to_q.lora_A.weight` becomes
    `lora_unet_down_blocks_1_attentions_0_..._to_q.lora_down.weight`, with an `alpha` per
    module (equal to the rank: a scale of 1, as peft's lora_alpha = r)."""
    kohya: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        component, _, rest = key.partition(".")
        module, _, kind = rest.rpartition(".lora_")
        name = f"{_KOHYA_PREFIXES[component]}_{module.replace('.', '_')}"
        if kind == "A.weight":
            kohya[f"{name}.lora_down.weight"] = value
            kohya[f"{name}.alpha"] = torch.tensor(float(value.shape[0]))
        elif kind == "B.weight":
            kohya[f"{name}.lora_up.weight"] = value
        else:
            raise ValueError(f"not a LoRA weight: {key}")
    return kohya


def build_tiny_safety_checker(
    flag_all: bool = False,
) -> tuple[StableDiffusionSafetyChecker, CLIPImageProcessor]:
    """The diffusers safety checker, tiny. Its concept thresholds decide: a picture is flagged
    when its similarity to a concept exceeds the threshold, so a threshold of -1 flags every
    picture and one of 2 none (cosine similarities lie in [-1, 1])."""
    torch.manual_seed(0)
    checker = StableDiffusionSafetyChecker(
        CLIPConfig(
            text_config={
                "hidden_size": 32,
                "intermediate_size": 37,
                "num_hidden_layers": 1,
                "num_attention_heads": 4,
            },
            vision_config={
                "hidden_size": 32,
                "intermediate_size": 37,
                "num_hidden_layers": 1,
                "num_attention_heads": 4,
                "image_size": 32,
                "patch_size": 8,
            },
            projection_dim=32,
        )
    ).eval()
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(-1.0 if flag_all else 2.0)
        checker.special_care_embeds_weights.fill_(2.0)
    processor = CLIPImageProcessor(crop_size=32, size=32)
    return checker, processor


def tiny_tokenizer() -> CLIPTokenizer:
    """A CLIP tokenizer with a small byte-pair vocabulary: single symbols and letter pairs.

    Pairs keep prompts within CLIP's 77 tokens about as often as the real vocabulary does.
    CLIPTokenizer only loads from files, so the vocabulary is written to a temporary folder;
    the tokenizer keeps it in memory afterwards.
    """
    vocab = {_START: 0, _END: 1}
    merges = []
    symbols = list(string.ascii_lowercase + string.digits + ".,!?'-")
    pairs = [(a, b) for a in string.ascii_lowercase for b in string.ascii_lowercase]
    for token in symbols + [a + b for a, b in pairs]:
        vocab[token] = len(vocab)
        vocab[token + "</w>"] = len(vocab)  # the same token at the end of a word
    for a, b in pairs:
        merges += [f"{a} {b}", f"{a} {b}</w>"]
    with tempfile.TemporaryDirectory(prefix="tiny-clip-") as folder:
        vocab_file, merges_file = Path(folder, "vocab.json"), Path(folder, "merges.txt")
        vocab_file.write_text(json.dumps(vocab))
        merges_file.write_text("\n".join(["#version: 0.2", *merges]) + "\n")
        return CLIPTokenizer(
            str(vocab_file),
            str(merges_file),
            model_max_length=MAX_TOKENS,
            bos_token=_START,
            eos_token=_END,
            pad_token=_END,
            unk_token=_END,
        )
