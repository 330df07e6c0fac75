"""GPU throughput of the service's engine on Stable Diffusion 1.5's real architecture.

    python bench/gpu_throughput.py              # on a GPU: SD 1.5 shapes, fp16, 512x512
    python bench/gpu_throughput.py --tiny       # anywhere: the tiny pipeline, a smoke test only

The UNet, VAE, text encoder and safety checker are built from SD 1.5's published configs
(bench/sd15/*.json) with random weights: the same FLOPs and memory as the real models,
without downloading them. Measured, each at batch 1, 4 and 8 through Engine.generate_batch
(what the service runs: one pipeline call per batch, a generator per job, post-processing
and encoding included):

    lcm-4        the fast path: LCM scheduler, 4 steps, no classifier-free guidance
    baseline-25  the quality path: DPM++ 2M Karras, 25 steps, guidance 7 (two UNet passes a step)

and, for the ratio, `plain`: what a user would write, one `StableDiffusionPipeline(...)(prompt)`
call per request with the pipeline's defaults (its own scheduler, 50 steps, guidance 7.5).
The LCM-LoRA is fused into the UNet's weights in the service, so it adds no work: the
benchmark's UNet without it has the same cost. It also loads all three styles at once (three
UNets; one text encoder, VAE and safety checker shared) and reports peak GPU memory.

`--compile MODE` wraps each distinct UNet in `torch.compile(unet, mode=MODE)` first, as the
service's `compile_unet` does (gpu_service/loading.py uses "max-autotune-no-cudagraphs" on CUDA);
"reduce-overhead" adds CUDA graphs, which take away the per-kernel launch cost. Each figure's
first (untimed) call is timed apart as `first_call_seconds`: with a compiled UNet it holds the
compilation for each new shape (and the CUDA graph recording).

Benchmarks print and save figures (bench/results/*.json); they never fail on a time.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionPipeline, UNet2DConditionModel  # noqa: E402
from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker  # noqa: E402
from transformers import CLIPConfig, CLIPImageProcessor, CLIPTextConfig, CLIPTextModel  # noqa: E402

from gpu_service import logs  # noqa: E402
from gpu_service.contract import GenerationJob  # noqa: E402
from gpu_service.engine import TINY_SIZE, Adapters, Engine  # noqa: E402
from gpu_service.refusals import UnsafeOutput  # noqa: E402
from gpu_service.styles import STYLES_BY_ID, Recipe, Style  # noqa: E402
from gpu_service.tiny_pipeline import _tiny_tokenizer, build_tiny_pipeline  # noqa: E402

CONFIGS = Path(__file__).with_name("sd15")
RESULTS = Path(__file__).with_name("results")
GIB = 1024**3
MEMORY_BUDGET_GIB = 12  # what three warm styles may take on one L4 (24 GB), leaving room to batch
COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune-no-cudagraphs")


def config(name: str) -> dict[str, Any]:
    return {
        k: v for k, v in json.loads((CONFIGS / f"{name}.json").read_text()).items() if not k.startswith("_")
    }


def sd15_pipelines(device: str, dtype: torch.dtype, *, tiny: bool) -> dict[str, StableDiffusionPipeline]:
    """Three styles' pipelines: a UNet each; text encoder, VAE, tokenizer and safety checker shared."""
    if tiny:
        shared = build_tiny_pipeline(seed=0)
        unets = [build_tiny_pipeline(seed=seed).unet for seed in range(3)]
        components = {k: v for k, v in shared.components.items() if k != "unet"}
    else:
        torch.manual_seed(0)
        # The tokenizer's vocabulary does not change the cost: every prompt is padded to 77 tokens.
        tokenizer = _tiny_tokenizer()
        text_encoder = CLIPTextModel(
            CLIPTextConfig(**config("text_encoder"), bos_token_id=0, eos_token_id=1, pad_token_id=1)
        )
        safety = config("safety_checker")
        components = {
            "tokenizer": tokenizer,
            "text_encoder": text_encoder.eval(),
            "vae": AutoencoderKL(**config("vae")).eval(),
            # from_config, as diffusers loads a scheduler_config.json: SD 1.5's config has a key
            # (clip_sample) that PNDMScheduler's constructor does not take.
            "scheduler": PNDMScheduler.from_config(config("scheduler")),
            "safety_checker": StableDiffusionSafetyChecker(CLIPConfig(**safety)).eval(),
            "feature_extractor": CLIPImageProcessor(crop_size=224, size=224),
        }
        unets = [UNet2DConditionModel(**config("unet")).eval() for _ in range(3)]
    pipelines = {}
    for style_id, unet in zip(STYLES_BY_ID, unets, strict=True):
        pipeline = StableDiffusionPipeline(**components, unet=unet, requires_safety_checker=False)
        pipeline.set_progress_bar_config(disable=True)
        # Casting to float32 is a no-op that diffusers warns about: cast only to half.
        pipelines[style_id] = pipeline.to(device) if dtype == torch.float32 else pipeline.to(device, dtype)
    return pipelines


def compile_unets(pipelines: dict[str, StableDiffusionPipeline], mode: str) -> int:
    """Wrap each distinct UNet in torch.compile, one compiled module per UNet (as loading._place).

    Compilation is lazy: it happens at a UNet's first call for each new input shape. Returns the
    number of distinct UNets wrapped.
    """
    compiled: dict[int, Any] = {}
    for pipeline in pipelines.values():
        unet = pipeline.unet
        if id(unet) not in compiled:
            compiled[id(unet)] = torch.compile(unet, mode=None if mode == "default" else mode)
        pipeline.unet = compiled[id(unet)]
    return len(compiled)


def engine_for(
    pipelines: dict[str, StableDiffusionPipeline], styles: dict[str, Style], device: str
) -> Engine:
    # The service fuses LoRAs into the UNet at load time; these UNets stand for fused ones.
    adapters = {
        s.id: Adapters(fused=s.plan(mode="normal", aspect="square").adapters) for s in styles.values()
    }
    return Engine(pipelines, styles, device=device, adapters=adapters)


def scenario_styles(name: str, size: int) -> dict[str, Style]:
    styles = {}
    for style_id, style in STYLES_BY_ID.items():
        if name == "lcm-4":
            style = replace(style, fast=Recipe("lcm", 4, 1.0), path="fast")
        else:
            style = replace(style, quality=Recipe("dpmpp_2m_karras", 25, 7.0), path="quality")
        styles[style_id] = replace(style, size=size, economy_size=min(style.economy_size, size))
    return styles


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def peak_gib(device: str) -> float | None:
    return round(torch.cuda.max_memory_allocated() / GIB, 2) if device.startswith("cuda") else None


def measure(run: Any, images: int, repeats: int, device: str) -> dict[str, Any]:
    synchronize(device)
    started = time.perf_counter()
    run()  # warm: kernels, allocator, cuDNN autotuning; with --compile, compilation and graph capture
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
    """Engine.generate_batch returns a job's error instead of raising it: a benchmark must not time failures.

    A picture the safety checker flags (UnsafeOutput) is an outcome, not a failure: it passes.
    """
    errors = [r for r in results if isinstance(r, BaseException) and not isinstance(r, UnsafeOutput)]
    if errors:
        raise RuntimeError(f"{len(errors)} of {len(results)} jobs failed") from errors[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="the tiny pipeline (automatic without CUDA)")
    parser.add_argument("--batches", default="1,4,8")
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed calls per figure (default 5 on GPU, 1 tiny)"
    )
    parser.add_argument("--plain-requests", type=int, default=8, help="requests for the plain-pipeline ratio")
    parser.add_argument(
        "--compile",
        choices=COMPILE_MODES,
        default="none",
        help="torch.compile each distinct UNet with this mode (default: none, eager)",
    )
    args = parser.parse_args(argv)
    logs.configure("WARNING")
    logs.route_library_logs()
    cuda = torch.cuda.is_available()
    tiny = args.tiny or not cuda
    device = "cuda" if cuda else "cpu"
    dtype = torch.float16 if cuda else torch.float32
    size = TINY_SIZE if tiny else 512
    repeats = args.repeats or (1 if tiny else 5)
    batches = [int(b) for b in args.batches.split(",")]
    device_name = torch.cuda.get_device_name() if cuda else platform.processor() or platform.machine()
    what = "TINY smoke test" if tiny else "SD 1.5 architecture"
    print(f"device: {device_name} ({device}, {dtype}); {what}, {size}x{size}; compile: {args.compile}")
    if tiny:
        print("  (tiny pipeline: these figures check that the benchmark runs; they say nothing about a GPU)")

    reset_peak(device)
    pipelines = sd15_pipelines(device, dtype, tiny=tiny)
    if args.compile != "none":
        unets = compile_unets(pipelines, args.compile)
        print(f"torch.compile(mode={args.compile!r}) on {unets} UNet(s); each figure's first call compiles")
    synchronize(device)
    loaded_gib = round(torch.cuda.memory_allocated() / GIB, 2) if cuda else None
    results: dict[str, Any] = {
        "device": device_name,
        "dtype": str(dtype),
        "tiny": tiny,
        "size": size,
        "torch": torch.__version__,
        "compile": args.compile,
        "three_styles_loaded_gib": loaded_gib,
        "runs": [],
    }
    if loaded_gib is not None:
        print(f"three styles loaded (3 UNets; text encoder, VAE, safety checker shared): {loaded_gib} GiB")

    prompts = [
        "a lighthouse on a cliff at dusk",
        "a fox in a snowy forest",
        "a busy market street",
        "a red kite",
    ]
    for scenario in ("lcm-4", "baseline-25"):
        engine = engine_for(pipelines, scenario_styles(scenario, size), device)
        for batch in batches:
            jobs = [
                GenerationJob(
                    job_id=f"b{n}", chat_id=0, prompt=prompts[n % len(prompts)], style="realistic", seed=n
                )
                for n in range(batch)
            ]
            figure = measure(lambda e=engine, j=jobs: checked(e.generate_batch(j)), batch, repeats, device)
            results["runs"].append({"scenario": scenario, "batch": batch, **figure})
            print(
                f"  {scenario:<12} batch {batch:>2}: {figure['images_per_second']:>7.3f} images/s, "
                f"{figure['seconds_per_image']:>7.3f} s/image, peak {figure['peak_gib']} GiB; "
                f"first call {figure['first_call_seconds']:.1f} s"
            )

    # What a user would write: the pipeline's defaults, one call per request.
    plain = StableDiffusionPipeline(**pipelines["realistic"].components)
    plain.set_progress_bar_config(disable=True)
    plain.scheduler = PNDMScheduler.from_config(pipelines["realistic"].scheduler.config)
    requests = args.plain_requests if not tiny else min(args.plain_requests, 4)

    def plain_requests() -> None:
        for n in range(requests):
            plain(prompts[n % len(prompts)], height=size, width=size)

    figure = measure(plain_requests, requests, 1, device)
    results["runs"].append({"scenario": "plain", "batch": 1, **figure})
    print(
        f"  {'plain':<12} per request: {figure['images_per_second']:>7.3f} images/s, "
        f"{figure['seconds_per_image']:>7.3f} s/image (StableDiffusionPipeline(...)(prompt), 50 steps); "
        f"first call {figure['first_call_seconds']:.1f} s"
    )
    best = max(run["images_per_second"] for run in results["runs"] if run["scenario"] == "lcm-4")
    results["speedup_over_plain"] = round(best / figure["images_per_second"], 1)
    print(f"fast path, best batch, over the plain per-request call: {results['speedup_over_plain']}x")
    peaks = [run["peak_gib"] for run in results["runs"] if run["peak_gib"] is not None]
    if peaks:
        verdict = "within" if max(peaks) < MEMORY_BUDGET_GIB else "OVER"
        budget = f"{verdict} the {MEMORY_BUDGET_GIB} GiB budget"
        print(f"peak GPU memory, all three styles loaded: {max(peaks)} GiB ({budget})")

    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    compiled = "" if args.compile == "none" else f"compile-{args.compile}-"
    path = RESULTS / f"gpu_throughput-{'tiny-' if tiny else ''}{device}-{compiled}{stamp}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
