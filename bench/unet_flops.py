"""FLOPs of one UNet pass: SD 1.5 at 512 px against SDXL at 1024 px, counted, not quoted.

    python bench/unet_flops.py

Both UNets are built from their published configs on PyTorch's meta device (shapes only: no
weights, no memory, no download) and run once under torch.utils.flop_counter.FlopCounterMode,
which counts the FLOPs of every matrix product and convolution from the shapes. The ratio
scales the GPU's measured SD 1.5 batch times to an SDXL estimate in bench/capacity.py.
SD 1.5's config is bench/sd15/unet.json; SDXL's is the one published with
stabilityai/stable-diffusion-xl-base-1.0 (unet/config.json), written out below.

Benchmarks print and save figures (bench/results/unet_flops-*.json).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from diffusers import UNet2DConditionModel  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from bench.common import ROOT, save  # noqa: E402

SDXL_UNET: dict[str, Any] = {
    "act_fn": "silu",
    "addition_embed_type": "text_time",
    "addition_time_embed_dim": 256,
    "attention_head_dim": [5, 10, 20],
    "block_out_channels": [320, 640, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 2048,
    "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-5,
    "norm_num_groups": 32,
    "out_channels": 4,
    "projection_class_embeddings_input_dim": 2816,
    "sample_size": 128,
    "transformer_layers_per_block": [1, 2, 10],
    "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    "use_linear_projection": True,
}


def one_pass(config: dict[str, Any], latent: int, context: int, xl: bool) -> tuple[int, int]:
    """(FLOPs of one pass on one sample, parameters)."""
    with torch.device("meta"):
        unet = UNet2DConditionModel(**config)
        sample = torch.randn(1, 4, latent, latent)
        text = torch.randn(1, 77, context)
        extra = {"text_embeds": torch.randn(1, 1280), "time_ids": torch.randn(1, 6)} if xl else None
        with FlopCounterMode(display=False) as counter:
            unet(sample, torch.tensor([10]), text, added_cond_kwargs=extra)
    return counter.get_total_flops(), sum(p.numel() for p in unet.parameters())


def main() -> int:
    sd15 = {k: v for k, v in json.loads((ROOT / "bench/sd15/unet.json").read_text()).items() if k[0] != "_"}
    rows = {
        "sd15_512": one_pass(sd15, 64, 768, xl=False),
        "sdxl_1024": one_pass(SDXL_UNET, 128, 2048, xl=True),
    }
    for name, (flops, params) in rows.items():
        print(f"{name:>10}: {flops / 1e12:.3f} TFLOP a pass, {params / 1e6:.1f} M parameters")
    ratio = rows["sdxl_1024"][0] / rows["sd15_512"][0]
    print(f"SDXL at 1024 / SD 1.5 at 512: {ratio:.2f}x the FLOPs of a UNet pass")
    results = {name: {"flops": f, "parameters": p} for name, (f, p) in rows.items()}
    path = save("unet_flops", {**results, "ratio": round(ratio, 3), "torch": torch.__version__})
    print(f"saved {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
