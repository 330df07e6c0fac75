"""GPU throughput of the service's engine on Stable Diffusion XL's real architecture.

    python bench/gpu_throughput.py              # on a GPU: SDXL shapes, fp16, 1024x1024
    python bench/gpu_throughput.py --tiny       # anywhere: the tiny SDXL pipeline, a smoke test only

The two UNets (the SDXL base that Ghibli and Pixel Art share, and Realistic's fine-tune), the
two text encoders, the VAE and the safety checker are built from SDXL's published configs
(bench/sdxl/*.json; the checker's from bench/sd15/) with random weights: the same FLOPs and
memory as the real models, without downloading them. Each UNet also carries the styles' LoRAs
as random adapters of the published files' sizes, unfused, as the service switches them.
Measured at batch 1, 2 and 4 through Engine.generate_batch (what the service runs: one
pipeline call per batch, a generator per job, decoding, the safety checker, post-processing
and encoding included):

    fast     the default path: SDXL-Lightning 4-step LoRA, Euler trailing, no guidance
    guided   a job with `--no ...`: LCM-LoRA, 8 steps, guidance 1.5 (two UNet passes a step)
    quality  the quality path: DPM++ 2M Karras, 25 steps, guidance 5 (two passes a step)

and, for the ratio, `plain`: what a user would write, one `StableDiffusionXLPipeline(...)(prompt)`
call per request with the pipeline's defaults (Euler, 50 steps, guidance 5).

It also counts FLOPs (torch.utils.flop_counter) of one picture on each path, on the tiny
pipeline and, through meta tensors (no memory, no time), on SDXL's real UNet at 1024x1024.

`--compile MODE` compiles each distinct UNet in place first, as the service's `compile_unet`
does. Each figure's first (untimed) call is timed apart as `first_call_seconds`.

The grid (issue 16): one grid job (GRID_SIZE candidates in one pipeline call, each decoded,
checked, post-processed and encoded, then the 2x2 collage encoded) against GRID_SIZE single
jobs of the same seeds drawn one call each, on the fast path. `--grid-only` measures just that.

Benchmarks print and save figures (bench/results/*.json); they never fail on a time.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel  # noqa: E402
from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker  # noqa: E402
from peft import LoraConfig  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402
from transformers import (  # noqa: E402
    CLIPConfig,
    CLIPImageProcessor,
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
)

from gpu_service import logs  # noqa: E402
from gpu_service.contract import GRID_SIZE, GenerationJob, candidate_seed  # noqa: E402
from gpu_service.engine import TINY_SIZE, Engine  # noqa: E402
from gpu_service.loading import load_engine  # noqa: E402
from gpu_service.refusals import UnsafeOutput  # noqa: E402
from gpu_service.safety import ClipSafetyChecker  # noqa: E402
from gpu_service.styles import STYLES_BY_ID, Style, loras_for  # noqa: E402
from gpu_service.tiny_pipeline import SDXL_SCHEDULER_CONFIG, tiny_tokenizer  # noqa: E402

CONFIGS = Path(__file__).with_name("sdxl")
SD15_CONFIGS = Path(__file__).with_name("sd15")
RESULTS = Path(__file__).with_name("results")
GIB = 1024**3
MEMORY_BUDGET_GIB = 20  # three styles warm plus a batch of 4 at 1024x1024 on one L4 (24 GB)
COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune-no-cudagraphs")
SCENARIOS = ("fast", "guided", "quality")
# Random stand-ins for the published LoRA files, by resident parameters (fp16 bytes / 2):
# SDXL-Lightning's and LCM-LoRA's 394 MB files, pixel-art-xl's 171 MB, the Ghibli slider's 9 MB.
# Rank 64 on the attention, projection and feed-forward layers comes to about their size.
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2"]
LORA_RANKS = {"lightning-4": 64, "lightning-2": 64, "lcm": 64, "pixel-art": 32, "ghibli": 2}


def config(name: str, folder: Path = CONFIGS) -> dict[str, Any]:
    raw = json.loads((folder / f"{name}.json").read_text())
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def sdxl_engine(device: str, dtype: torch.dtype, styles: dict[str, Style]) -> Engine:
    """Three styles on SDXL's real shapes: two UNets (base for ghibli and pixel, a fine-tune for
    realistic), each with its styles' LoRAs as adapters; text encoders, VAE, checker shared."""
    torch.manual_seed(0)
    tokenizer = tiny_tokenizer()  # the vocabulary does not change the cost: prompts pad to 77
    ids = {"bos_token_id": 0, "eos_token_id": 1, "pad_token_id": 1}
    shared = {
        "tokenizer": tokenizer,
        "tokenizer_2": tiny_tokenizer(),
        "text_encoder": CLIPTextModel(CLIPTextConfig(**config("text_encoder"), **ids)).eval(),
        "text_encoder_2": CLIPTextModelWithProjection(
            CLIPTextConfig(**config("text_encoder_2"), **ids)
        ).eval(),
        "vae": AutoencoderKL(**config("vae")).eval(),
        "scheduler": EulerDiscreteScheduler.from_config(SDXL_SCHEDULER_CONFIG),
    }
    unets = {
        "base": UNet2DConditionModel(**config("unet")).eval(),
        "fine-tune": UNet2DConditionModel(**config("unet")).eval(),
    }
    pipelines: dict[str, StableDiffusionXLPipeline] = {}
    by_unet: dict[str, StableDiffusionXLPipeline] = {}
    for style in styles.values():
        which = "fine-tune" if style.id == "realistic" else "base"
        if which not in by_unet:
            pipeline = StableDiffusionXLPipeline(**shared, unet=unets[which], add_watermarker=False)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Already found a `peft_config`")
                for name in loras_for(
                    [s for s in styles.values() if ("fine-tune" if s.id == "realistic" else "base") == which]
                ):
                    rank = LORA_RANKS[name]
                    pipeline.unet.add_adapter(
                        LoraConfig(
                            r=rank, lora_alpha=rank, target_modules=LORA_TARGETS, init_lora_weights=False
                        ),
                        name,
                    )
            by_unet[which] = pipeline.to(device) if dtype == torch.float32 else pipeline.to(device, dtype)
        pipelines[style.id] = by_unet[which]
    checker = StableDiffusionSafetyChecker(CLIPConfig(**config("safety_checker", SD15_CONFIGS))).eval()
    checker = checker if dtype == torch.float32 else checker.to(dtype)
    safety = ClipSafetyChecker(checker, CLIPImageProcessor(crop_size=224, size=224), device=device)
    return Engine(pipelines, styles, device=device, safety=safety)


def scenario_styles(styles: dict[str, Style], name: str) -> dict[str, Style]:
    return {k: v.with_path("quality" if name == "quality" else "fast") for k, v in styles.items()}


def jobs_for(scenario: str, batch: int) -> list[GenerationJob]:
    prompts = [
        "a lighthouse on a cliff at dusk",
        "a fox in a snowy forest",
        "a busy market street",
        "a red kite",
    ]
    negative = "blurry, text" if scenario == "guided" else ""
    return [
        GenerationJob(
            job_id=f"b{n}",
            chat_id=0,
            prompt=prompts[n % len(prompts)],
            style="realistic",
            seed=n,
            negative_prompt=negative,
        )
        for n in range(batch)
    ]


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> float | None:
    return round(torch.cuda.max_memory_allocated() / GIB, 2) if device.startswith("cuda") else None


def measure(run: Callable[[], Any], images: int, repeats: int, device: str) -> dict[str, Any]:
    synchronize(device)
    started = time.perf_counter()
    run()  # warm: kernels, allocator, cuDNN autotuning; with --compile, compilation
    synchronize(device)
    first_call = time.perf_counter() - started
    reset_peak(device)
    started = time.perf_counter()
    for _ in range(repeats):
        run()
    synchronize(device)
    seconds = time.perf_counter() - started
    count = images * repeats
    return {
        "images": count,
        "seconds": round(seconds, 3),
        "images_per_second": round(count / seconds, 3),
        "seconds_per_image": round(seconds / count, 3),
        "peak_gib": peak_gib(device),
        "first_call_seconds": round(first_call, 3),
    }


def checked(results: list[Any]) -> None:
    """generate_batch returns a job's error instead of raising it: a benchmark must not time
    failures. A flagged picture (UnsafeOutput) is an outcome, not a failure: it passes."""
    errors = [r for r in results if isinstance(r, BaseException) and not isinstance(r, UnsafeOutput)]
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(results)} jobs failed") from errors[0]


def grid_figures(engine: Engine, repeats: int, device: str) -> dict[str, Any]:
    """One grid job against GRID_SIZE single jobs of the same seeds, one call each (fast path)."""
    grid = GenerationJob(
        job_id="grid", chat_id=0, prompt="a fox", style="realistic", seed=7, candidates=GRID_SIZE
    )
    singles = [
        GenerationJob(
            job_id=f"one{n}", chat_id=0, prompt="a fox", style="realistic", seed=candidate_seed(7, n)
        )
        for n in range(1, GRID_SIZE + 1)
    ]
    one_grid = measure(lambda: checked(engine.generate_batch([grid])), GRID_SIZE, repeats, device)
    four_calls = measure(
        lambda: [checked(engine.generate_batch([job])) for job in singles], GRID_SIZE, repeats, device
    )
    return {
        "grid": one_grid,
        "singles": four_calls,
        "grid_over_singles_time": round(one_grid["seconds"] / four_calls["seconds"], 2),
    }


def picture_flops(engine: Engine, scenario: str) -> float:
    """FLOPs of one picture on a path: text encoders, every UNet pass, decode, checker."""
    engine.styles = scenario_styles(engine.styles, scenario)
    with FlopCounterMode(display=False) as counter:
        checked(engine.generate_batch(jobs_for(scenario, 1)))
    return float(counter.get_total_flops())


def real_unet_tflops() -> float:
    """One pass of SDXL's real UNet at 1024x1024, counted on meta tensors (nothing computed)."""
    with torch.device("meta"):
        unet = UNet2DConditionModel(**config("unet")).half()
        latents = torch.randn(1, 4, 128, 128, dtype=torch.half)
        added = {
            "text_embeds": torch.randn(1, 1280, dtype=torch.half),
            "time_ids": torch.randn(1, 6, dtype=torch.half),
        }
        with FlopCounterMode(display=False) as counter:
            unet(
                latents,
                torch.tensor([999.0]),
                encoder_hidden_states=torch.randn(1, 77, 2048, dtype=torch.half),
                added_cond_kwargs=added,
            )
    return counter.get_total_flops() / 1e12


def unet_passes(style: Style, scenario: str) -> int:
    recipe = {"fast": style.fast, "guided": style.guided, "quality": style.quality}[scenario]
    return recipe.steps * (2 if recipe.applies_negative else 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="the tiny pipeline (automatic without CUDA)")
    parser.add_argument("--batches", default="1,2,4")
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed calls per figure (default 5 on GPU, 1 tiny)"
    )
    parser.add_argument(
        "--plain-requests", type=int, default=None, help="requests for the plain ratio (4 GPU, 1 tiny)"
    )
    parser.add_argument(
        "--compile", choices=COMPILE_MODES, default="none", help="torch.compile each distinct UNet"
    )
    parser.add_argument("--grid-only", action="store_true", help="only the grid against four single jobs")
    args = parser.parse_args(argv)
    logs.configure("WARNING")
    logs.route_library_logs()
    cuda = torch.cuda.is_available()
    tiny = args.tiny or not cuda
    device = "cuda" if cuda else "cpu"
    dtype = torch.float16 if cuda else torch.float32
    repeats = args.repeats or (1 if tiny else 5)
    plain_requests = args.plain_requests or (1 if tiny else 4)
    batches = [int(b) for b in args.batches.split(",")]
    device_name = torch.cuda.get_device_name() if cuda else platform.processor() or platform.machine()
    size = TINY_SIZE if tiny else 1024
    print(
        f"device: {device_name} ({device}, {dtype}); "
        f"{'TINY smoke test' if tiny else 'SDXL architecture'}, {size}x{size}"
    )
    if tiny:
        print("  (tiny pipeline: these figures check that the benchmark runs; they say nothing about a GPU)")

    reset_peak(device)
    engine = load_engine(None, device=device) if tiny else sdxl_engine(device, dtype, dict(STYLES_BY_ID))
    styles = dict(engine.styles)
    unets = {id(engine.pipeline_for(s).unet): engine.pipeline_for(s).unet for s in styles}
    base = engine.pipeline_for("ghibli")
    counts = {
        "unets": [parameters(u) for u in unets.values()],
        "text_encoders": parameters(base.text_encoder) + parameters(base.text_encoder_2),
        "vae": parameters(base.vae),
    }
    if args.compile != "none":
        for unet in unets.values():
            unet.compile(mode=None if args.compile == "default" else args.compile)
        print(
            f"torch.compile(mode={args.compile!r}) on {len(unets)} UNet(s); each figure's first call compiles"
        )
    synchronize(device)
    loaded_gib = round(torch.cuda.memory_allocated() / GIB, 2) if cuda else None
    results: dict[str, Any] = {
        "device": device_name,
        "dtype": str(dtype),
        "tiny": tiny,
        "size": size,
        "torch": torch.__version__,
        "compile": args.compile,
        "parameters": counts,
        "three_styles_loaded_gib": loaded_gib,
        "runs": [],
    }
    print(f"parameters: {counts}")
    if loaded_gib is not None:
        print(
            f"three styles loaded (2 UNets with their LoRAs; encoders, VAE, checker shared): {loaded_gib} GiB"
        )

    engine.styles = scenario_styles(styles, "fast")
    results["grid"] = grid_figures(engine, repeats, device)
    grid, singles = results["grid"]["grid"], results["grid"]["singles"]
    print(
        f"  grid of {GRID_SIZE} (one call): {grid['seconds'] / repeats:.3f} s a grid; "
        f"{GRID_SIZE} single jobs (a call each): {singles['seconds'] / repeats:.3f} s; "
        f"the grid costs {results['grid']['grid_over_singles_time']}x the singles' time"
        f"{' (CPU, tiny pipeline)' if tiny else ''}"
    )
    for scenario in () if args.grid_only else SCENARIOS:
        engine.styles = scenario_styles(styles, scenario)
        for batch in batches:
            jobs = jobs_for(scenario, batch)
            figure = measure(lambda j=jobs: checked(engine.generate_batch(j)), batch, repeats, device)
            results["runs"].append({"scenario": scenario, "batch": batch, **figure})
            print(
                f"  {scenario:<8} batch {batch:>2}: {figure['images_per_second']:>7.3f} images/s, "
                f"{figure['seconds_per_image']:>7.3f} s/image, peak {figure['peak_gib']} GiB; "
                f"first call {figure['first_call_seconds']:.1f} s"
            )

    if args.grid_only:
        return save(results, tiny, device, args.compile, "grid-")
    # What a user would write: the pipeline's defaults, one call per request.
    realistic = engine.pipeline_for("realistic")
    plain = StableDiffusionXLPipeline(**realistic.components, add_watermarker=False)
    plain.set_progress_bar_config(disable=True)
    plain.scheduler = EulerDiscreteScheduler.from_config(SDXL_SCHEDULER_CONFIG)
    realistic.unet.disable_adapters()  # the plain model, no LoRA

    def plain_calls() -> None:
        for n in range(plain_requests):
            plain(jobs_for("fast", plain_requests)[n].prompt, height=size, width=size)

    figure = measure(plain_calls, plain_requests, 1, device)
    results["runs"].append({"scenario": "plain", "batch": 1, **figure})
    print(
        f"  {'plain':<8} per request: {figure['images_per_second']:>7.3f} images/s, "
        f"{figure['seconds_per_image']:>7.3f} s/image (StableDiffusionXLPipeline(...)(prompt), 50 steps)"
    )
    fast = max(run["images_per_second"] for run in results["runs"] if run["scenario"] == "fast")
    guided = max(run["images_per_second"] for run in results["runs"] if run["scenario"] == "guided")
    results["fast_over_plain"] = round(fast / figure["images_per_second"], 1)
    results["fast_over_guided"] = round(fast / guided, 2)
    print(
        f"fast path, best batch, over the plain call: {results['fast_over_plain']}x; "
        f"over guided: {results['fast_over_guided']}x"
    )
    peaks = [run["peak_gib"] for run in results["runs"] if run["peak_gib"] is not None]
    if peaks:
        verdict = "within" if max(peaks) < MEMORY_BUDGET_GIB else "OVER"
        print(
            f"peak GPU memory, three styles loaded: {max(peaks)} GiB "
            f"({verdict} the {MEMORY_BUDGET_GIB} GiB budget)"
        )

    if tiny:
        # FLOPs per picture on each path, with the recipes' real step counts on the tiny model.
        counting = load_engine(
            None,
            device="cpu",
            styles={k: v.scaled(size=TINY_SIZE, steps=100) for k, v in STYLES_BY_ID.items()},
        )
        flops = {scenario: picture_flops(counting, scenario) for scenario in ("fast", "guided")}
        results["tiny_gflops_per_picture"] = {k: round(v / 1e9, 3) for k, v in flops.items()}
        print(
            f"tiny model, GFLOPs per picture: {results['tiny_gflops_per_picture']} "
            f"(guided / fast: {flops['guided'] / flops['fast']:.2f}x)"
        )
    unet_tflops = real_unet_tflops()
    style = STYLES_BY_ID["realistic"]
    passes = {scenario: unet_passes(style, scenario) for scenario in SCENARIOS} | {"plain": 100}
    results["sdxl_unet_tflops_per_pass_1024"] = round(unet_tflops, 2)
    results["sdxl_unet_tflops_per_picture"] = {k: round(v * unet_tflops, 1) for k, v in passes.items()}
    print(
        f"SDXL UNet at 1024x1024: {unet_tflops:.2f} TFLOPs a pass; "
        f"per picture {results['sdxl_unet_tflops_per_picture']}"
    )

    return save(results, tiny, device, args.compile)


def save(results: dict[str, Any], tiny: bool, device: str, compile_mode: str, kind: str = "") -> int:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    compiled = "" if compile_mode == "none" else f"compile-{compile_mode}-"
    path = RESULTS / f"gpu_throughput-sdxl-{kind}{'tiny-' if tiny else ''}{device}-{compiled}{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
