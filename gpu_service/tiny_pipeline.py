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
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

MAX_TOKENS = 77  # CLIP's context length, as in SD 1.5
_START, _END = "<|startoftext|>", "<|endoftext|>"


def build_tiny_pipeline(seed: int = 0) -> StableDiffusionPipeline:
    """The same weights for the same seed, so pictures are reproducible across processes."""
    tokenizer = _tiny_tokenizer()
    # Seed before each component, as diffusers' tests do: each one's weights then do not
    # depend on how many random numbers the components before it happened to draw.
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
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
