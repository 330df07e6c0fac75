"""A tiny Stable Diffusion pipeline with random weights, built in code.

It has the real architecture (CLIP text encoder, conditional UNet, KL autoencoder, scheduler)
at a fraction of the width, so the whole service runs its real code path on a CPU in well
under a second per picture, without downloading weights. The pictures are coloured noise.
This follows the recipe of diffusers' own CPU tests.
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path

import torch
from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
from transformers import CLIPConfig, CLIPImageProcessor, CLIPTextConfig, CLIPTextModel, CLIPTokenizer

MAX_TOKENS = 77  # CLIP's context length, as in SD 1.5
_START, _END = "<|startoftext|>", "<|endoftext|>"


# The attention projections of the UNet: where LCM-LoRA and style LoRAs put their weights.
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


def build_tiny_pipeline(seed: int = 0) -> StableDiffusionPipeline:
    """The same weights for the same seed, so pictures are reproducible across processes."""
    tokenizer = _tiny_tokenizer()
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
    )
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=MAX_TOKENS,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            layer_norm_eps=1e-5,
        )
    )
    # SD 1.5's noise schedule and DDIM settings, as its published scheduler config has them.
    scheduler = DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )
    pipeline = StableDiffusionPipeline(
        vae=vae.eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=tokenizer,
        unet=unet.eval(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def build_tiny_unet() -> UNet2DConditionModel:
    return UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=(2, 4),
        norm_num_groups=32,
    )


def add_tiny_lora(unet: UNet2DConditionModel, name: str, seed: int = 0) -> None:
    """A random LoRA adapter on the tiny UNet, standing in for LCM-LoRA or a style LoRA.

    Random rather than peft's default (an adapter that changes nothing), so that switching it
    on and off really changes the picture, as a real LoRA does.
    """
    import warnings

    from peft import LoraConfig

    torch.manual_seed(seed)
    with warnings.catch_warnings():
        # peft warns that a second adapter on one model is unusual; here it is the point.
        warnings.filterwarnings("ignore", message="Already found a `peft_config`")
        unet.add_adapter(
            LoraConfig(r=4, lora_alpha=4, target_modules=LORA_TARGETS, init_lora_weights=False), name
        )


def save_tiny_lora(folder: Path, name: str, weight_name: str, seed: int = 0) -> Path:
    """The weights of add_tiny_lora(name, seed) as a diffusers LoRA file, as a Hub repository
    of a LoRA holds it; loading it with load_lora_weights gives the same adapter."""
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(seed)
    unet = build_tiny_unet()
    add_tiny_lora(unet, name, seed)
    StableDiffusionPipeline.save_lora_weights(
        folder,
        unet_lora_layers=get_peft_model_state_dict(unet, adapter_name=name),
        weight_name=weight_name,
        safe_serialization=True,
    )
    return folder / weight_name


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


def _tiny_tokenizer() -> CLIPTokenizer:
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
