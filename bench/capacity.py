"""A capacity model of the deployed bot: a discrete-event simulation (SimPy) of the cloud.

    python bench/capacity.py                         # the 1,000-user scenarios, the chosen settings
    python bench/capacity.py --gpu-max 4 --batch 8   # the same with other settings
    python bench/capacity.py --engine sdxl           # the SDXL-at-1024 estimate for the GPU
    python bench/capacity.py --check-local RUN.json  # the model against a local-stack run

What is simulated, per prompt: Telegram posts the update to `telegram_webhook` (instances with a
concurrency and a cold start); Pub/Sub pushes it to `validate_prompt` (which asks for a style
unless the user has a default; the button press comes back through the webhook), then to
`rate_limit` (the per-user token bucket and daily quota of functions/imagebot/quota.py, the same
maths), then to the Cloud Run GPU service: instances that autoscale on concurrency, start with a
cold start, a model load and a warm-up, stop at `max_instance_count`, and micro-batch the
requests they hold by style (gpu_service/batching.py). A push that finds no room waits in Cloud
Run's pending queue, is refused after a while and comes back with Pub/Sub's exponential backoff,
five attempts and then the dead-letter topic. The picture lands in the bucket, Eventarc calls
`deliver_image`, and every Bot API call that Telegram counts waits for the bot-wide pace and the
chat's pace of functions/imagebot/pacing.py, inside the function that makes it (holding its
slot). Service times are the project's own measurements (SOURCES below, each with its file); the
GPU's batch times are the H100 figures scaled to an L4 (GpuModel). What is not measured is an
assumption, named as such in ASSUMPTIONS and printed with the figures.

Printed: p50/p95/p99 from the user's last action (the prompt, or the style button) to the photo;
the longest queues; GPU instances over time; prompts refused by the quota; dead-lettered jobs;
and the cost per picture and per day at list prices (PRICES, cited). Plots go to docs/.
Benchmarks print figures; they never fail on a time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Generator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import simpy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import ROOT, percentile, save  # noqa: E402

DOCS = ROOT / "docs"
Process = Generator[simpy.Event, Any, Any]

# -- what was measured, and where ----------------------------------------------------------------

SOURCES = {
    "h100_unet": "bench/results/gpu_breakdown-cuda-20261122T183206Z.log: UNet step at batch 16, "
    "3.32 ms a sample",
    "h100_launch": "bench/results/gpu_breakdown-cuda-20261122T183206Z.log: UNet step at batch 1-8, 36-44 ms "
    "(kernel launches, eager PyTorch)",
    "h100_vae": "bench/results/gpu_breakdown-cuda-20261122T183206Z.log: VAE decode 512 at batch 8, 122 ms",
    "per_picture_rest": "docs/BENCHMARKS.md (Cloud Run's L4): about 20 ms a picture for the text encoder, "
    "safety checker and encoding",
    "unet_flops": "bench/results/unet_flops-20261201T202345Z.json: SD 1.5 UNet at 512 0.803 TFLOP a "
    "pass, SDXL at 1024 6.761 TFLOP (8.42x), counted by torch's FlopCounterMode",
    "webhook": "bench/results/webhook_load-20261122T171151Z.json: open loop 100/s, p50 14.3 ms, p95 18.9 ms",
    "hops": "bench/results/pipeline_overhead-20261122T172722Z.json (below the GPU's pace): "
    "received→validated p50 66/p95 109 ms, validated→queued 70/110, queued→generating 100/162, "
    "generated→delivered 149/243",
    "function_cold_start": "docs/BENCHMARKS.md (pipeline overhead): a function's first event builds its "
    "clients, 0.5-2 s",
    "warm_up": "docs/BENCHMARKS.md (torch.compile): about 20 s of first calls, eager",
    "gpu_cold_start": "cloud.google.com/run/docs/configuring/services/gpu: an L4 instance with drivers "
    "starts in about 5 s",
    "pacing": "functions/imagebot/pacing.py: 20 bot-wide calls a second, 1 s a private chat, a burst of 3",
    "quota": "functions/imagebot/config.py: RATE_BURST 3, RATE_REFILL_SECONDS 20, DAILY_QUOTA 50",
    "pubsub_retry": "terraform/pubsub.tf: push retry backoff 10 s to 600 s, 5 delivery attempts, then the "
    "dead-letter topic",
    "sizes": "terraform/functions.tf, terraform/gpu_service.tf: concurrency and max instances; the GPU "
    "service 4 vCPU, 16 GiB, 1 L4",
}
ASSUMPTIONS = {
    "model_load_s": "60 s to copy three styles' weights (5.8 GiB) from Cloud Storage FUSE and load them: "
    "not measured (the startup probe allows 10 minutes)",
    "pending_s": "a request Cloud Run cannot place is held 10 s, then refused (429), and Pub/Sub backs off",
    "backoff": "Pub/Sub's backoff doubles from the minimum at each attempt (the curve is not documented)",
    "scale": "Cloud Run's autoscaler targets 60% of max concurrency, looks every 2 s, and stops an instance "
    "idle for idle_retention_s (default 300 s; Cloud Run may keep one up to 15 minutes)",
    "think_s": "a user presses the style button 3 s after the question (not counted in the latency)",
    "l4_efficiency": "the L4 reaches the same share of its peak as the H100 did (UNet: FLOPs-bound; VAE: "
    "bandwidth-bound), and kernel launches cost the same 40 ms a step on its 4 vCPUs",
    "eventarc": "Eventarc's delay equals the local event bridge's (polling every 0.2 s)",
}
# Datasheets: H100 SXM 989 TFLOP/s dense fp16 tensor, 3.35 TB/s; L4 121 TFLOP/s dense fp16, 300 GB/s.
H100 = {"tflops": 989.0, "tbps": 3.35}
L4 = {"tflops": 121.0, "tbps": 0.300}

# List prices in USD, Tier 1 regions (europe-west4). Cloud Run functions are billed as Cloud Run
# services with request-based billing; the GPU service must use instance-based billing.
PRICES = {
    "gpu_l4_per_s": 0.0001867,  # ~$0.67 an hour, no zonal redundancy (see docs/CAPACITY.md for the source)
    "run_instance_vcpu_s": 0.000018,  # cloud.google.com/run/pricing, instance-based billing, Tier 1
    "run_instance_gib_s": 0.000002,
    "run_request_vcpu_s": 0.000024,  # request-based billing, Tier 1
    "run_request_gib_s": 0.0000025,
    "run_per_million_requests": 0.40,
    "pubsub_per_tib": 40.0,  # cloud.google.com/pubsub/pricing; at least 1,000 bytes a request
    "firestore_read_per_100k": 0.06,  # cloud.google.com/firestore/pricing, multi-region (eur3)
    "firestore_write_per_100k": 0.18,
}
# Firestore operations and Pub/Sub requests per picture, counted from functions/imagebot/: job
# create, moves and stamps, quota, pacing slots, dedupe, user, cache (an estimate, not measured).
FIRESTORE_READS_PER_PICTURE = 14
FIRESTORE_WRITES_PER_PICTURE = 12
PUBSUB_REQUESTS_PER_PICTURE = 10  # 5 publishes and 5 pushes, each billed as 1,000 bytes at least


def lognormal(p50_ms: float, p95_ms: float) -> Callable[[random.Random], float]:
    """A sampler of seconds whose median and 95th percentile are the measured ones."""
    mu, sigma = math.log(p50_ms / 1000), (math.log(p95_ms) - math.log(p50_ms)) / 1.645
    return lambda rng: rng.lognormvariate(mu, sigma)


# -- the GPU's batch times --------------------------------------------------------------------------


@dataclass(frozen=True)
class GpuModel:
    """Seconds one engine call takes for a batch of b pictures on one GPU:

        steps * max(launch, unet_pass * passes * b) + b * (vae + rest)

    The H100's GPU-bound figures scaled to the L4: the UNet by dense fp16 FLOP/s (989 / 121 =
    8.2x), the VAE decode by memory bandwidth (3.35 / 0.30 = 11.2x); kernel launches are the
    host's (40 ms a step), and 20 ms a picture of text encoder, safety checker and encoding.
    SDXL at 1024 px: the UNet pass by its counted FLOPs (8.42x SD 1.5 at 512), the VAE by pixels
    (4x). An estimate until bench/gpu_throughput.py runs on an L4."""

    name: str
    steps: int
    unet_pass_s: float
    vae_s: float
    rest_s: float = 0.020
    launch_s: float = 0.040
    passes: int = 1  # 2 with classifier-free guidance
    estimate: bool = True

    def batch_seconds(self, b: int) -> float:
        unet = self.steps * max(self.launch_s, self.unet_pass_s * self.passes * b)
        return unet + b * (self.vae_s + self.rest_s)

    @classmethod
    def sd15_l4(cls, steps: int = 6) -> GpuModel:
        unet = 0.00332 * H100["tflops"] / L4["tflops"]
        vae = 0.122 / 8 * H100["tbps"] / L4["tbps"]
        return cls(f"SD 1.5 512px LCM {steps} steps on an L4 (scaled from the H100)", steps, unet, vae)

    @classmethod
    def sdxl_l4(cls, steps: int = 4) -> GpuModel:
        base = cls.sd15_l4(steps)
        return replace(
            base,
            name=f"SDXL 1024px {steps} steps on an L4 (ESTIMATE: FLOPs ratio 8.42x, VAE 4x)",
            unet_pass_s=base.unet_pass_s * 8.42,
            vae_s=base.vae_s * 4,
            rest_s=0.040,  # two text encoders, a 4x larger picture to check and encode
        )

    @classmethod
    def measured(cls, name: str, per_batch: dict[int, float]) -> GpuModel:
        """From measured batch times (e.g. the local stack's CPU "GPU"): a line through them."""
        sizes = sorted(per_batch)
        if len(sizes) == 1:
            return cls(name, 1, 0.0, per_batch[sizes[0]], rest_s=0.0, launch_s=0.0, estimate=False)
        n = len(sizes)
        mean_b, mean_t = sum(sizes) / n, sum(per_batch[b] for b in sizes) / n
        slope = sum((b - mean_b) * (per_batch[b] - mean_t) for b in sizes) / sum(
            (b - mean_b) ** 2 for b in sizes
        )
        slope = max(slope, 0.0)
        fixed = max(0.0, mean_t - slope * mean_b)
        return cls(name, 1, 0.0, slope, rest_s=0.0, launch_s=fixed, estimate=False)


# -- settings ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    concurrency: int
    max_instances: int
    service: Callable[[random.Random], float]
    min_instances: int = 0
    vcpu: float = 1.0
    gib: float = 0.5


@dataclass(frozen=True)
class GpuSpec:
    """The GPU service's settings; the defaults are terraform/environments/prod.tfvars'."""

    min_instances: int = 1
    max_instances: int = 8
    concurrency: int = 8
    batch_max: int = 4
    window_s: float = 0.075
    cold_start_s: float = 5.0
    model_load_s: float = 60.0
    warm_up_s: float = 20.0
    idle_retention_s: float = 300.0
    target_utilisation: float = 0.6
    scale_every_s: float = 2.0
    vcpu: float = 4.0
    gib: float = 16.0


@dataclass(frozen=True)
class Settings:
    gpu: GpuSpec
    engine: GpuModel
    functions: dict[str, FunctionSpec]
    pending_s: float = 10.0
    min_backoff_s: float = 10.0
    max_backoff_s: float = 600.0
    attempts: int = 5
    bot_per_second: float = 20.0
    chat_interval_s: float = 1.0
    chat_burst: int = 3
    pacing_max_wait_s: float = 30.0
    rate_burst: int = 3
    rate_refill_s: float = 20.0
    daily_quota: int = 50
    ask_style_share: float = 0.5  # users with no default style, asked with buttons
    status_messages: bool = True  # "queued" (rate_limit) and "drawing" (report_progress) edits
    think_s: float = 3.0
    styles: int = 3
    function_cold_start: Callable[[random.Random], float] = lambda rng: rng.uniform(0.5, 2.0)
    push_delay: Callable[[random.Random], float] = lognormal(25, 87)


def cloud_functions(webhook_min: int = 1) -> dict[str, FunctionSpec]:
    """Concurrency and max instances as terraform/functions.tf sets them; service times measured."""
    return {
        "webhook": FunctionSpec("telegram_webhook", 32, 20, lognormal(14.3, 18.9), min_instances=webhook_min),
        "validate": FunctionSpec("validate_prompt", 8, 10, lognormal(66, 109)),
        "rate_limit": FunctionSpec("rate_limit", 8, 10, lognormal(70, 110)),
        "progress": FunctionSpec("report_progress", 8, 10, lognormal(40, 80)),
        "deliver": FunctionSpec("deliver_image", 4, 10, lognormal(149, 243), gib=1.0),
    }


# -- arrivals ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """Users active over time; each active user sends a prompt about every `gap_s` seconds."""

    name: str
    duration_s: float
    users: Callable[[float], float]  # users active at time t
    gap_s: float = 60.0
    newcomers_burst: int = 0  # a burst of prompts from each new user as they arrive (the channel post)
    arrivals_at: tuple[float, ...] = ()  # given times instead (a measured run's), each its own chat
    note: str = ""


def steady(users: int = 1000, minutes: float = 60) -> Scenario:
    return Scenario(
        f"steady: {users:,} users, one prompt a minute each, {minutes:g} min",
        minutes * 60,
        lambda t: users,
        note="every user active for the whole hour: the daily quota (50) cuts in after about 50 minutes",
    )


def daily_peak(peak: int = 1000, hours: float = 2.5) -> Scenario:
    """The evening: from a tenth of the peak up to it over an hour, half an hour at the peak,
    and back down over an hour."""

    def users(t: float) -> float:
        h = t / 3600
        rise, top = 1.0, 0.5
        if h < rise:
            return peak * (0.1 + 0.9 * h / rise)
        if h < rise + top:
            return peak
        return peak * max(0.1, 1 - 0.9 * (h - rise - top) / rise)

    return Scenario(f"daily peak: up to {peak:,} users over {hours:g} h", hours * 3600, users)


def channel_post(base: int = 100, newcomers: int = 1000, minutes: float = 30) -> Scenario:
    """A channel post: `newcomers` users arrive over about two minutes (half within 60 s), each
    sending a burst of three prompts (the token bucket's), then one a minute."""
    start = 300.0

    def users(t: float) -> float:
        return base + (newcomers * (1 - math.exp(-(t - start) / 87)) if t > start else 0.0)

    return Scenario(
        f"channel post: {base} users, then {newcomers:,} more within minutes",
        minutes * 60,
        users,
        newcomers_burst=3,
    )


# -- the simulation ------------------------------------------------------------------------------


@dataclass
class Job:
    user: int
    asked_at: float  # the user's last action: the prompt, or the style button
    style: int
    attempts: int = 0
    done_at: float | None = None
    outcome: str = ""


class Pool:
    """Instances of one Cloud Run function (or service): a request takes a slot on a ready
    instance; with none free, a new instance starts (cold start) unless at max_instances, and the
    request waits for the first slot to open, at most `patience` seconds."""

    def __init__(self, env: simpy.Environment, spec: FunctionSpec, settings: Settings, rng: random.Random):
        self.env, self.spec, self.settings, self.rng = env, spec, settings, rng
        self.ready: list[int] = []  # busy slots per ready instance
        self.starting = 0
        self.waiting: deque[simpy.Event] = deque()
        self.requests = 0
        self.busy_seconds = 0.0
        self.billed_seconds = 0.0  # request-based billing: an instance serving at least one request
        self.ready = [0] * spec.min_instances
        self.since = [0.0] * spec.min_instances
        self.most = spec.min_instances

    def _start_instance(self) -> Process:
        self.starting += 1
        yield self.env.timeout(self.settings.function_cold_start(self.rng))
        self.starting -= 1
        self.ready.append(0)  # function instances stay once started: their idle time is not billed
        self.since.append(0.0)
        self.most = max(self.most, len(self.ready))
        self._hand_out()

    def _hand_out(self) -> None:
        while self.waiting:
            free = next((i for i, busy in enumerate(self.ready) if busy < self.spec.concurrency), None)
            if free is None:
                return
            event = self.waiting.popleft()
            self._take(free)
            event.succeed(free)

    def acquire(self, patience: float = math.inf) -> Process:
        """The instance index holding a slot for this request, or None after `patience`."""
        self.requests += 1
        free = next((i for i, busy in enumerate(self.ready) if busy < self.spec.concurrency), None)
        if free is not None:
            self._take(free)
            return free
        event = self.env.event()
        self.waiting.append(event)
        if len(
            self.ready
        ) + self.starting < self.spec.max_instances and self.starting * self.spec.concurrency < len(
            self.waiting
        ):
            self.env.process(self._start_instance())
        if math.isinf(patience):
            return (yield event)
        yield event | self.env.timeout(patience)
        if event.triggered:
            return event.value
        self.waiting.remove(event)  # refused: Cloud Run answers 429 and Pub/Sub backs off
        return None

    def _take(self, index: int) -> None:
        if self.ready[index] == 0:
            self.since[index] = self.env.now
        self.ready[index] += 1

    def release(self, index: int, held: float) -> None:
        self.busy_seconds += held
        self.ready[index] -= 1
        if self.ready[index] == 0:
            self.billed_seconds += self.env.now - self.since[index]
        self._hand_out()


class Pacer:
    """functions/imagebot/pacing.py as a virtual clock: the bot-wide slot, and a chat's slot with
    its burst tolerance; a call waits for the later of the two, at most max_wait."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bot_next = 0.0
        self.chats: dict[int, float] = {}
        self.waits: list[float] = []
        self.over_limit = 0

    def wait(self, now: float, chat: int | None) -> float:
        s = self.settings
        slot = max(now, self.bot_next)
        self.bot_next = slot + 1 / s.bot_per_second
        if chat is not None:
            theoretical = max(now, self.chats.get(chat, now))
            self.chats[chat] = theoretical + s.chat_interval_s
            slot = max(slot, theoretical - (s.chat_burst - 1) * s.chat_interval_s)
        wait = slot - now
        if wait > s.pacing_max_wait_s:
            self.over_limit += 1  # sent anyway; Telegram may answer 429 (honoured by the client)
            wait = s.pacing_max_wait_s
        self.waits.append(wait)
        return wait


class GpuInstance:
    def __init__(self, env: simpy.Environment, index: int, ready_at: float) -> None:
        self.env, self.index = env, index
        self.ready_at = ready_at
        self.held: list[tuple[Job, simpy.Event]] = []  # requests on this instance, not yet drawn
        self.in_flight = 0
        self.last_busy = env.now
        self.wake = env.event()
        self.stopped = False


class GpuService:
    """The Cloud Run GPU service: autoscaled instances, each a micro-batcher by style."""

    def __init__(self, env: simpy.Environment, settings: Settings, rng: random.Random) -> None:
        self.env, self.s, self.rng = env, settings, rng
        self.instances: list[GpuInstance] = []
        self.pending: deque[tuple[Job, simpy.Event]] = deque()
        self.instance_seconds = 0.0
        self.busy_seconds = 0.0
        self.batches: Counter[int] = Counter()
        self.timeline: list[tuple[float, int, int, int]] = []  # t, instances, ready, pending
        self._last = 0.0
        for _ in range(settings.gpu.min_instances):
            self._start(ready_now=True)
        env.process(self._autoscale())

    def _account(self) -> None:
        live = sum(1 for i in self.instances if not i.stopped)
        self.instance_seconds += live * (self.env.now - self._last)
        self._last = self.env.now

    def _start(self, ready_now: bool = False) -> None:
        g = self.s.gpu
        self._account()
        boot = 0.0 if ready_now else g.cold_start_s + g.model_load_s + g.warm_up_s
        instance = GpuInstance(self.env, len(self.instances), self.env.now + boot)
        self.instances.append(instance)
        self.env.process(self._serve(instance))

    def live(self) -> list[GpuInstance]:
        return [i for i in self.instances if not i.stopped]

    def _autoscale(self) -> Process:
        g = self.s.gpu
        while True:
            yield self.env.timeout(g.scale_every_s)
            live = self.live()
            demand = sum(i.in_flight for i in live) + len(self.pending)
            desired = max(
                g.min_instances,
                min(g.max_instances, math.ceil(demand / (g.concurrency * g.target_utilisation))),
            )
            for _ in range(desired - len(live)):
                self._start()
            for instance in live:
                idle = instance.in_flight == 0 and self.env.now - instance.last_busy > g.idle_retention_s
                if idle and len(self.live()) > max(desired, g.min_instances):
                    self._account()
                    instance.stopped = True
                    instance.wake.succeed() if not instance.wake.triggered else None
            ready = sum(1 for i in self.live() if i.ready_at <= self.env.now)
            self.timeline.append((self.env.now, len(self.live()), ready, demand))
            self._place()

    def _place(self) -> None:
        """Hand pending requests to ready instances with a free slot (Cloud Run's router)."""
        while self.pending:
            room = [
                i for i in self.live() if i.ready_at <= self.env.now and i.in_flight < self.s.gpu.concurrency
            ]
            if not room:
                return
            job, done = self.pending.popleft()
            if done.triggered:
                continue
            target = min(room, key=lambda i: i.in_flight)
            target.in_flight += 1
            target.held.append((job, done))
            if not target.wake.triggered:
                target.wake.succeed()

    def push(self, job: Job) -> Process:
        """One push attempt: True once drawn, False when Cloud Run refused it (no room in time)."""
        done = self.env.event()
        self.pending.append((job, done))
        self._place()
        result = yield done | self.env.timeout(self.s.pending_s)
        if done in result:
            return True
        # Not placed in time: 429. A request already on an instance is never abandoned here,
        # since `done` fires only when its batch is drawn; take it out of the queue.
        if any(entry[1] is done for entry in self.pending):
            self.pending = deque(entry for entry in self.pending if entry[1] is not done)
            return False
        yield done
        return True

    def _serve(self, instance: GpuInstance) -> Process:
        g = self.s.gpu
        yield self.env.timeout(max(0.0, instance.ready_at - self.env.now))
        self._place()
        while not instance.stopped:
            if not instance.held:
                instance.wake = self.env.event()
                yield instance.wake
                continue
            first_style = instance.held[0][0].style
            deadline = self.env.now + g.window_s
            while True:
                same = [entry for entry in instance.held if entry[0].style == first_style]
                if len(same) >= g.batch_max or self.env.now >= deadline:
                    break
                instance.wake = self.env.event()
                yield instance.wake | self.env.timeout(deadline - self.env.now)
            batch = same[: g.batch_max]
            instance.held = [entry for entry in instance.held if entry not in batch]
            seconds = self.s.engine.batch_seconds(len(batch))
            yield self.env.timeout(seconds)
            self.busy_seconds += seconds
            self.batches[len(batch)] += 1
            instance.last_busy = self.env.now
            instance.in_flight -= len(batch)
            for _, done in batch:
                done.succeed()
            self._place()

    def close(self) -> None:
        self._account()


@dataclass
class Quota:
    tokens: float
    at: float
    used: int = 0
    quiet_until: float = 0.0


@dataclass
class Outcome:
    latencies: list[float] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    photos_at: list[float] = field(default_factory=list)


class Model:
    def __init__(self, settings: Settings, scenario: Scenario, seed: int = 1) -> None:
        self.s, self.scenario = settings, scenario
        self.rng = random.Random(seed)
        self.env = simpy.Environment()
        self.pools = {
            key: Pool(self.env, spec, settings, self.rng) for key, spec in settings.functions.items()
        }
        self.gpu = GpuService(self.env, settings, self.rng)
        self.pacer = Pacer(settings)
        self.quotas: dict[int, Quota] = {}
        self.out = Outcome()
        self.queue_samples: list[tuple[float, dict[str, int]]] = []

    # The hops ----------------------------------------------------------------------------------

    def serve(self, key: str, work: Callable[[], Process] | None = None, pushed: bool = True) -> Process:
        """One call of a function: a Pub/Sub push (with retries when refused) or an HTTP request."""
        pool = self.pools[key]
        for attempt in range(1, self.s.attempts + 1):
            if pushed:
                yield self.env.timeout(self.s.push_delay(self.rng))
            index = yield from pool.acquire(self.s.pending_s if pushed else math.inf)
            if index is None:
                yield self.env.timeout(self.backoff(attempt))
                continue
            started = self.env.now
            yield self.env.timeout(pool.spec.service(self.rng))
            if work is not None:
                yield from work()
            pool.release(index, self.env.now - started)
            return True
        return False

    def backoff(self, attempt: int) -> float:
        return min(self.s.max_backoff_s, self.s.min_backoff_s * 2.0 ** (attempt - 1))

    def paced(self, chat: int | None) -> Process:
        yield self.env.timeout(self.pacer.wait(self.env.now, chat))

    def admit(self, user: int) -> bool:
        """functions/imagebot/quota.py's admit(): burst tokens refilled one per refill period,
        and a daily limit (the scenarios last less than a day)."""
        s, now = self.s, self.env.now
        quota = self.quotas.setdefault(user, Quota(float(s.rate_burst), now))
        quota.tokens = min(float(s.rate_burst), quota.tokens + (now - quota.at) / s.rate_refill_s)
        quota.at = now
        if quota.used >= s.daily_quota:
            self.out.counts["refused: daily quota"] += 1
            return False
        if quota.tokens < 1:
            self.out.counts["refused: rate"] += 1
            return False
        quota.tokens -= 1
        quota.used += 1
        return True

    def prompt(self, user: int) -> Process:
        s, counts = self.s, self.out.counts
        job = Job(user, self.env.now, self.rng.randrange(s.styles))
        counts["prompts"] += 1
        yield from self.serve("webhook", pushed=False)
        asks = self.rng.random() < s.ask_style_share
        if asks:  # the question with buttons (a new message), then the press comes back
            yield from self.serve("validate", lambda: self.paced(user))
            yield self.env.timeout(s.think_s)
            job.asked_at = self.env.now
            yield from self.serve("webhook", pushed=False)
        if not (yield from self.serve("validate", (lambda: self.paced(None)) if asks else None)):
            counts["dead-lettered"] += 1
            return
        admitted = self.admit(user)
        told = False

        def tell() -> Process:
            nonlocal told
            quota = self.quotas[user]
            if admitted and s.status_messages:
                yield from self.paced(None)  # the status message becomes "queued"
            elif self.env.now >= quota.quiet_until:
                quota.quiet_until = self.env.now + 60
                told = True
                yield from self.paced(user)

        if not (yield from self.serve("rate_limit", tell)):
            counts["dead-lettered"] += 1
            return
        if not admitted:
            counts["refusals told"] += told
            return
        if s.status_messages:
            self.env.process(self.serve("progress", lambda: self.paced(None)))  # "drawing…"
        for attempt in range(1, s.attempts + 1):
            yield self.env.timeout(s.push_delay(self.rng))
            if (yield from self.gpu.push(job)):
                break
            counts["GPU pushes refused (429)"] += 1
            yield self.env.timeout(self.backoff(attempt))
        else:
            counts["dead-lettered"] += 1
            counts["dead-lettered at the GPU"] += 1
            return
        if not (yield from self.serve("deliver", lambda: self.paced(user))):
            counts["dead-lettered"] += 1
            return
        counts["photos"] += 1
        self.out.latencies.append(self.env.now - job.asked_at)
        self.out.photos_at.append(self.env.now)

    # Arrivals ----------------------------------------------------------------------------------

    def arrivals(self) -> Process:
        """A thinned Poisson process: users(t) / gap prompts a second, each from an active user;
        newcomers of a burst scenario send their burst on arrival."""
        sc = self.scenario
        peak = max(sc.users(t) for t in range(0, int(sc.duration_s) + 1, 10))
        rate = peak / sc.gap_s
        known = int(sc.users(0))
        for user, at in enumerate(sc.arrivals_at):
            yield self.env.timeout(at - self.env.now)
            self.env.process(self.prompt(user))
        while not sc.arrivals_at:
            yield self.env.timeout(self.rng.expovariate(rate))
            now = self.env.now
            if now >= sc.duration_s:
                return
            active = sc.users(now)
            if sc.newcomers_burst:
                while known < int(active):
                    for _ in range(sc.newcomers_burst):
                        self.env.process(self.prompt(known))
                    known += 1
            if self.rng.random() < active / peak:
                self.env.process(self.prompt(self.rng.randrange(max(1, int(active)))))

    def watch(self) -> Process:
        while True:
            yield self.env.timeout(10)
            self.queue_samples.append(
                (
                    self.env.now,
                    {
                        "GPU (pending + on instances)": len(self.gpu.pending)
                        + sum(i.in_flight for i in self.gpu.live()),
                        **{key: len(pool.waiting) for key, pool in self.pools.items()},
                        "pacer backlog (s)": int(max(0.0, self.pacer.bot_next - self.env.now)),
                    },
                )
            )

    def run(self, drain_s: float = 1800) -> dict[str, Any]:
        self.env.process(self.arrivals())
        self.env.process(self.watch())
        self.env.run(until=self.scenario.duration_s + drain_s)
        self.gpu.close()
        return self.figures()

    # Figures -------------------------------------------------------------------------------------

    def figures(self) -> dict[str, Any]:
        lat, counts = self.out.latencies, self.out.counts
        photos = counts["photos"]
        cost = self.cost()
        longest = {
            key: max((sample[key] for _, sample in self.queue_samples), default=0)
            for key in (self.queue_samples[0][1] if self.queue_samples else {})
        }
        gpu_ready = [ready for _, _, ready, _ in self.gpu.timeline]
        return {
            "scenario": self.scenario.name,
            "counts": dict(counts),
            "prompt_to_photo_s": {
                "p50": round(percentile(lat, 50), 1),
                "p95": round(percentile(lat, 95), 1),
                "p99": round(percentile(lat, 99), 1),
                "max": round(max(lat), 1) if lat else math.nan,
            },
            "photos_per_second_at_best": round(self.best_rate(), 2),
            "longest_queues": longest,
            "gpu_instances_max": max(gpu_ready, default=0),
            "gpu_instance_hours": round(self.gpu.instance_seconds / 3600, 2),
            "gpu_busy_share": round(self.gpu.busy_seconds / max(1.0, self.gpu.instance_seconds), 3),
            "batches": dict(sorted(self.gpu.batches.items())),
            "pacer": {
                "p50_wait_s": round(percentile(self.pacer.waits, 50), 2),
                "p99_wait_s": round(percentile(self.pacer.waits, 99), 2),
                "over_the_limit": self.pacer.over_limit,
            },
            "cost_usd": cost,
            "cost_per_photo_usd": round(cost["total"] / photos, 5) if photos else math.nan,
        }

    def best_rate(self) -> float:
        """Photos a second over the busiest minute."""
        if not self.out.photos_at:
            return 0.0
        minutes = Counter(int(t // 60) for t in self.out.photos_at)
        return max(minutes.values()) / 60

    def cost(self) -> dict[str, float]:
        p, g = PRICES, self.s.gpu
        gpu_s = self.gpu.instance_seconds
        gpu = gpu_s * (
            p["gpu_l4_per_s"] + g.vcpu * p["run_instance_vcpu_s"] + g.gib * p["run_instance_gib_s"]
        )
        functions = 0.0
        for pool in self.pools.values():
            # Request-based billing: an instance is billed while it serves at least one request.
            functions += pool.billed_seconds * (
                pool.spec.vcpu * p["run_request_vcpu_s"] + pool.spec.gib * p["run_request_gib_s"]
            )
            functions += pool.requests * p["run_per_million_requests"] / 1e6
        photos = self.out.counts["photos"]
        pubsub = photos * PUBSUB_REQUESTS_PER_PICTURE * 1000 / 2**40 * p["pubsub_per_tib"]
        firestore = (
            photos
            * (
                FIRESTORE_READS_PER_PICTURE * p["firestore_read_per_100k"]
                + FIRESTORE_WRITES_PER_PICTURE * p["firestore_write_per_100k"]
            )
            / 1e5
        )
        total = gpu + functions + pubsub + firestore
        return {
            "gpu": round(gpu, 2),
            "functions": round(functions, 2),
            "pubsub": round(pubsub, 3),
            "firestore": round(firestore, 2),
            "total": round(total, 2),
        }


# -- running it ------------------------------------------------------------------------------------


def settings_from(args: argparse.Namespace) -> Settings:
    gpu = GpuSpec(
        min_instances=args.gpu_min,
        max_instances=args.gpu_max,
        concurrency=args.gpu_concurrency,
        batch_max=args.batch,
        window_s=args.window_ms / 1000,
        model_load_s=args.model_load_s,
        idle_retention_s=args.idle_retention_s,
    )
    engine = GpuModel.sdxl_l4() if args.engine == "sdxl" else GpuModel.sd15_l4()
    return Settings(
        gpu=gpu,
        engine=engine,
        functions=cloud_functions(),
        ask_style_share=args.ask_style,
        bot_per_second=args.bot_per_second,
        status_messages=not args.no_status,
    )


def per_day(result: dict[str, Any], scenario: Scenario, settings: Settings) -> float:
    """The scenario's cost, and the rest of a 24-hour day at its starting load: min instances
    idle all that time, and the starting load's photos at the scenario's cost a photo (GPU
    instances that this load starts cost more than that; an estimate)."""
    hours = scenario.duration_s / 3600
    rest = max(0.0, 24 - hours)
    g, p = settings.gpu, PRICES
    idle = (
        g.min_instances
        * 3600
        * (p["gpu_l4_per_s"] + g.vcpu * p["run_instance_vcpu_s"] + g.gib * p["run_instance_gib_s"])
    )
    base_photos = scenario.users(0) / scenario.gap_s * 3600
    per_photo = float(result["cost_per_photo_usd"]) if result["counts"].get("photos") else 0.0
    return round(float(result["cost_usd"]["total"]) + rest * (idle + base_photos * per_photo), 2)


def print_result(result: dict[str, Any]) -> None:
    c, lat = result["counts"], result["prompt_to_photo_s"]
    print(f"\n== {result['scenario']}")
    print(
        f"  prompts {c.get('prompts', 0):,}, photos {c.get('photos', 0):,}, refused by quota: daily "
        f"{c.get('refused: daily quota', 0):,}, rate {c.get('refused: rate', 0):,}; dead-lettered "
        f"{c.get('dead-lettered', 0):,} (at the GPU {c.get('dead-lettered at the GPU', 0):,}); GPU pushes "
        f"refused (429) {c.get('GPU pushes refused (429)', 0):,}"
    )
    print(
        f"  prompt → photo (s): p50 {lat['p50']}, p95 {lat['p95']}, p99 {lat['p99']}, max {lat['max']}; "
        f"busiest minute {result['photos_per_second_at_best']} photos/s"
    )
    print(
        f"  GPU: up to {result['gpu_instances_max']} ready instances, "
        f"{result['gpu_instance_hours']} instance-hours, "
        f"busy {result['gpu_busy_share']:.0%}; batches by size {result['batches']}"
    )
    q = ", ".join(f"{k} {v}" for k, v in result["longest_queues"].items())
    print(f"  longest queues (requests waiting; sampled every 10 s): {q}")
    pacer = result["pacer"]
    print(
        f"  Telegram pace: wait p50 {pacer['p50_wait_s']} s, p99 {pacer['p99_wait_s']} s; "
        f"{pacer['over_the_limit']:,} calls past the 30 s wait (sent anyway)"
    )
    cost = result["cost_usd"]
    print(
        f"  cost (USD): GPU {cost['gpu']}, functions {cost['functions']}, Pub/Sub {cost['pubsub']}, "
        f"Firestore {cost['firestore']}: {cost['total']} in all, {result['cost_per_photo_usd']} a photo"
        + (
            f"; the day (this evening, 10% of it the rest): {result['cost_per_day_usd']}"
            if result["cost_per_day_usd"]
            else ""
        )
    )


@dataclass(frozen=True)
class Trace:
    """What the plots need of a run (a Model itself does not cross a process boundary)."""

    scenario: str
    gpu_timeline: list[tuple[float, int, int, int]]
    queue_samples: list[tuple[float, dict[str, int]]]
    photos_at: list[float]
    latencies: list[float]


def simulate(name: str, args: argparse.Namespace) -> tuple[dict[str, Any], Trace]:
    """One scenario under the settings the arguments give, in a process of its own."""
    settings = settings_from(args)
    scenario = scenario_named(name, args.users)
    model = Model(settings, scenario, seed=args.seed)
    result = model.run()
    result["cost_per_day_usd"] = per_day(result, scenario, settings) if name == "daily" else None
    trace = Trace(
        scenario.name, model.gpu.timeline, model.queue_samples, model.out.photos_at, model.out.latencies
    )
    return result, trace


def scenario_named(name: str, users: int) -> Scenario:
    makers: dict[str, Callable[[int], Scenario]] = {
        "steady": steady,
        "daily": daily_peak,
        "burst": lambda n: channel_post(newcomers=n),
    }
    return makers[name](users)


def plot(runs: list[tuple[dict[str, Any], Trace]], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, len(runs), figsize=(5.2 * len(runs), 9), squeeze=False, sharex="col")
    for column, (result, trace) in enumerate(runs):
        minutes = [t / 60 for t, *_ in trace.gpu_timeline]
        top, middle, bottom = axes[0][column], axes[1][column], axes[2][column]
        top.set_title(trace.scenario.split(":")[0] + f"\np50 {result['prompt_to_photo_s']['p50']} s, "
                      f"p99 {result['prompt_to_photo_s']['p99']} s", fontsize=9)  # fmt: skip
        top.step(minutes, [live for _, live, _, _ in trace.gpu_timeline], label="GPU instances (billed)")
        top.step(minutes, [ready for _, _, ready, _ in trace.gpu_timeline], label="ready")
        top.set_ylabel("GPU instances")
        top.legend(fontsize=7)
        samples = trace.queue_samples
        at = [t / 60 for t, _ in samples]
        for key in ("GPU (pending + on instances)", "pacer backlog (s)"):
            middle.plot(at, [sample[key] for _, sample in samples], label=key)
        middle.set_ylabel("queue")
        middle.legend(fontsize=7)
        done = sorted(zip(trace.photos_at, trace.latencies, strict=True))
        bottom.scatter([t / 60 for t, _ in done], [lat for _, lat in done], s=1, alpha=0.3)
        bottom.set_ylabel("prompt → photo (s)")
        bottom.set_xlabel("minutes")
        bottom.set_yscale("log")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# -- the model against the local stack -------------------------------------------------------------


def local_settings(
    measured: dict[str, Any], batches: dict[int, float], batch_max: int, concurrency: int
) -> Settings:
    """The local stack as the model sees it: one CPU "GPU" instance, already warm, its batch
    times measured in the run; the other hops' times from the same run; no Telegram pace (the
    fake Bot API does not limit) and no cold starts (the benchmark warms up first)."""
    hops = measured["hops"]

    def hop(name: str) -> Callable[[random.Random], float]:
        return lognormal(hops[name]["p50_ms"], max(hops[name]["p95_ms"], hops[name]["p50_ms"] * 1.01))

    functions = cloud_functions(webhook_min=1)
    functions["webhook"] = replace(functions["webhook"], service=lambda rng: 0.0)  # in received→validated
    functions["validate"] = replace(functions["validate"], service=hop("received→validated"))
    functions["rate_limit"] = replace(functions["rate_limit"], service=hop("validated→queued"))
    functions["deliver"] = replace(functions["deliver"], service=hop("generated→delivered"))
    return Settings(
        gpu=GpuSpec(min_instances=1, max_instances=1, concurrency=concurrency, batch_max=batch_max),
        engine=GpuModel.measured("the local stack's CPU pipeline (measured)", batches),
        functions=functions,
        ask_style_share=0.0,  # the benchmark's prompts carry a style shortcut
        status_messages=False,
        bot_per_second=1e9,
        function_cold_start=lambda rng: 0.0,
        pending_s=600.0,  # the push waits for the service (ack deadline 600 s)
        daily_quota=10**9,  # each prompt from its own chat
        push_delay=lambda rng: 0.0,  # in the hops above
    )


def batch_times(log: Path) -> dict[int, list[float]]:
    """The GPU service's "batch drawn" log lines: seconds by batch size."""
    times: dict[int, list[float]] = {}
    for line in log.read_text().splitlines():
        if '"batch drawn"' not in line:
            continue
        record = json.loads(line[line.index("{") :])
        times.setdefault(int(record["batch_size"]), []).append(record["duration_ms"] / 1000)
    return times


def check_local(run: Path, gpu_log: Path | None, batch_max: int, concurrency: int) -> dict[str, Any]:
    """The model given the run's own arrivals (when the webhook took each prompt), batch times
    and hop times: what it predicts is the queueing, against what the run measured."""
    measured = json.loads(run.read_text())
    times = batch_times(gpu_log or Path(measured["gpu_service_log"]))
    means = {b: sum(v) / len(v) for b, v in times.items()}
    # The run's largest batch bounds the model's: the emulator's push and the service's threads
    # decide how many jobs the service holds at once, which the run shows and the model cannot.
    batch_max = batch_max or max(times)
    received = sorted(job["received_epoch"] for job in measured["jobs"].values() if job.get("received_epoch"))
    arrivals = tuple(at - received[0] for at in received)
    scenario = Scenario(
        f"local stack: {len(arrivals)} prompts, 1 CPU GPU",
        arrivals[-1] + 1,
        lambda t: 1.0,
        arrivals_at=arrivals,
    )
    model = Model(local_settings(measured, means, batch_max, concurrency), scenario, seed=3)
    result = model.run(drain_s=3600)
    end = measured["end_to_end"]
    return {
        "batch_seconds_measured": {b: round(m, 3) for b, m in sorted(means.items())},
        "batches_measured": {b: len(v) for b, v in sorted(times.items())},
        "local": {
            "p50_s": end["p50_ms"] / 1000,
            "p95_s": end["p95_ms"] / 1000,
            "photos_per_s": measured["throughput_per_second"],
        },
        "model": {
            "p50_s": result["prompt_to_photo_s"]["p50"],
            "p95_s": result["prompt_to_photo_s"]["p95"],
            "photos_per_s": round(result["counts"].get("photos", 0) / model.out.photos_at[-1], 3)
            if model.out.photos_at
            else 0.0,
            "batches": result["batches"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gpu-min", type=int, default=1, help="GPU min_instance_count")
    parser.add_argument("--gpu-max", type=int, default=8, help="GPU max_instance_count")
    parser.add_argument(
        "--gpu-concurrency", type=int, default=8, help="GPU requests an instance takes at once"
    )
    parser.add_argument("--batch", type=int, default=4, help="BATCH_MAX_SIZE")
    parser.add_argument("--window-ms", type=float, default=75, help="BATCH_WINDOW_MS")
    parser.add_argument(
        "--model-load-s", type=float, default=60.0, help="seconds to load the models (assumed)"
    )
    parser.add_argument(
        "--idle-retention-s", type=float, default=300.0, help="an idle instance is stopped after"
    )
    parser.add_argument("--engine", choices=("sd15", "sdxl"), default="sd15", help="GPU batch times")
    parser.add_argument("--ask-style", type=float, default=0.5, help="share of prompts asked for a style")
    parser.add_argument(
        "--bot-per-second", type=float, default=20.0, help="bot-wide Bot API calls a second (pacing.py: 20)"
    )
    parser.add_argument("--no-status", action="store_true", help="no 'queued' and 'drawing' status edits")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--scenarios", default="steady,daily,burst")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--plot", default="capacity", help="the plots' file in docs/, without .png")
    parser.add_argument("--check-local", type=Path, help="a pipeline_overhead JSON to compare the model with")
    parser.add_argument("--gpu-log", type=Path, help="that run's gpu_service log (default: the one it names)")
    parser.add_argument(
        "--local-batch", type=int, default=0, help="the local stack's largest batch (0: the run's largest)"
    )
    parser.add_argument(
        "--local-concurrency", type=int, default=8, help="the local push bridge's concurrency"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.perf_counter()

    if args.check_local:
        check = check_local(args.check_local, args.gpu_log, args.local_batch, args.local_concurrency)
        print(
            f"batch seconds measured on the CPU GPU: {check['batch_seconds_measured']} "
            f"(batches: {check['batches_measured']})"
        )
        local, model = check["local"], check["model"]
        print("                 p50 s    p95 s   photos/s")
        print(f"  local stack  {local['p50_s']:>7.1f}  {local['p95_s']:>7.1f}  {local['photos_per_s']:>8.2f}")
        print(f"  model        {model['p50_s']:>7.1f}  {model['p95_s']:>7.1f}  {model['photos_per_s']:>8.2f}")
        for key in ("p50_s", "p95_s", "photos_per_s"):
            if local[key]:
                print(f"  {key}: model / local = {model[key] / local[key]:.2f}")
        print(f"saved {save('capacity-check', {'run': str(args.check_local), **check}).relative_to(ROOT)}")
        return 0

    settings = settings_from(args)
    print(f"GPU engine: {settings.engine.name}")
    print(
        "  batch seconds: "
        + ", ".join(f"{b}: {settings.engine.batch_seconds(b):.2f}" for b in (1, 2, 4, 8, 16))
    )
    print(
        f"settings: GPU min {args.gpu_min}, max {args.gpu_max}, concurrency {args.gpu_concurrency}, batch "
        f"{args.batch}, window {args.window_ms:g} ms; {args.ask_style:.0%} of prompts asked for a style"
    )
    names = args.scenarios.split(",")
    # One process a scenario: they are independent, and a collapsing system's retries make
    # the slowest take most of a minute on this machine.
    with ProcessPoolExecutor(max_workers=min(len(names), os.cpu_count() or 1)) as pool:
        runs = list(pool.map(simulate, names, [args] * len(names)))
    for result, _ in runs:
        print_result(result)
    results = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "engine": settings.engine.name,
        "sources": SOURCES,
        "assumptions": ASSUMPTIONS,
        "prices_usd": PRICES,
        "runs": [result for result, _ in runs],
    }
    if not args.no_plot:
        path = DOCS / f"{args.plot}.png"
        plot(runs, path, f"{settings.engine.name}; GPU max {args.gpu_max}, batch {args.batch}")
        print(f"\nplots: {path.relative_to(ROOT)}")
    print(f"saved {save('capacity', results).relative_to(ROOT)} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
