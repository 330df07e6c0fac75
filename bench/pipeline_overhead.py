"""The pipeline's own overhead, webhook to sendPhoto, with generation taken out.

    python bench/pipeline_overhead.py                          # 200 prompts at 5 a second
    python bench/pipeline_overhead.py --prompts 60 --rate 0.5  # below the CPU "GPU"'s pace

What runs: the whole local stack (local.stack.LocalStack: the emulators, every function under
functions-framework, the GPU service on the CPU with its tiny pipeline, the event bridge, the
fake Bot API). What is sent, on loopback only: distinct prompts with a style shortcut (`/pixel …`,
`/ghibli …`, `/realistic …` in turn, so no button press is needed and the prompt cache never
answers), each from its own private chat (so no quota refuses), through the fake Bot API's
webhook delivery, at a steady rate, after a few warm-up prompts (a function's first event builds
its clients: a cold start, not overhead).

Measured from each job's Firestore document, whose every move stamps `times.<state>` (one clock:
one machine):

    overhead = (delivered − received) − (generated − generating)

received is stamped by the webhook as it parses the update, delivered just after sendPhoto
returns: the pipeline's own time from webhook to photo, drawing excluded. Per hop:
received→validated (webhook, Pub/Sub, validate_prompt), validated→queued (Pub/Sub, rate_limit),
queued→generating (Pub/Sub push to the GPU service, and any wait for it), generated→delivered
(the event bridge's bucket polling, deliver_image, sendPhoto). Also: the end-to-end throughput
(photos a second, first update to last photo), how the jobs ended, and that each chat got
exactly one photo; the JSON keeps every job's stamps and the fake Bot API's sendPhoto times.

The GPU service on a CPU draws the tiny pipeline at about a picture a second here: it is the
throughput bottleneck, which is why drawing is taken out. Above its pace jobs wait for it, and
that wait lands in queued→generating, so the overhead is also given without that hop (run below
its pace for the hop itself). Its torch is held to one thread (`--gpu-threads`), as in the cloud
it has a machine of its own and would otherwise take every core from the functions measured.

Benchmarks print and save figures (bench/results/pipeline_overhead-*.json); they never fail on a time.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import sys
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from google.cloud import firestore  # noqa: E402

from bench.common import (  # noqa: E402
    ROOT,
    group_cpu_seconds,
    latency_summary,
    machine,
    machine_busy_seconds,
    save,
    self_cpu_seconds,
)
from local.fake_telegram_client import FakeTelegram, WebhookResult  # noqa: E402
from local.stack import LocalStack, StackConfig  # noqa: E402

STYLES = ("pixel", "ghibli", "realistic")
SUBJECTS = (
    "a lighthouse on a cliff at dusk", "a fox in a snowy forest", "a busy market street in the rain",
    "a red kite over green hills", "an old tram in Lisbon", "a cat asleep on a stack of books",
)  # fmt: skip
FINAL = ("delivered", "rejected", "failed")
# The states a job from a style shortcut passes (awaiting_style is skipped), and the hops between.
STAMPS = ("received", "validated", "queued", "generating", "generated", "delivered")
HOPS = tuple(itertools.pairwise(STAMPS))
FIRST_CHAT = 30_000_000
WARM_UP = 6  # prompts through every function before the measured ones


def send_all(telegram: FakeTelegram, chats: range, rate: float) -> list[WebhookResult]:
    """A prompt from each chat, started every 1/rate seconds (a few threads, so that one slow
    webhook answer does not hold up the next update)."""
    futures: list[Future[WebhookResult]] = []
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for n, chat in enumerate(chats):
            time.sleep(max(0.0, started + n / rate - time.monotonic()))
            text = f"/{STYLES[n % len(STYLES)]} {SUBJECTS[n % len(SUBJECTS)]}, number {chat}"
            futures.append(pool.submit(telegram.send_text, chat_id=chat, user_id=chat, text=text))
    return [future.result() for future in futures]


def wait_for_jobs(db: firestore.Client, job_ids: list[str], limit: float) -> dict[str, dict[str, Any]]:
    """Every job's document once all have reached a final state, or `limit` seconds have passed."""
    deadline = time.monotonic() + limit
    jobs: dict[str, dict[str, Any]] = {}
    while True:
        refs = [db.collection("jobs").document(job_id) for job_id in job_ids]
        jobs = {snapshot.id: snapshot.to_dict() or {} for snapshot in db.get_all(refs) if snapshot.exists}
        done = sum(1 for job in jobs.values() if job["state"] in FINAL)
        if done == len(job_ids) or time.monotonic() > deadline:
            return jobs
        time.sleep(1.0)


def complete(job: dict[str, Any]) -> bool:
    return set(STAMPS) <= set(job.get("times", {}))


def seconds(times: dict[str, datetime], start: str, end: str) -> float:
    return (times[end] - times[start]).total_seconds()


def figures(jobs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Over the delivered jobs with every stamp; how many lack one is reported apart."""
    delivered = [job["times"] for job in jobs.values() if job["state"] == "delivered" and complete(job)]
    overhead = [
        seconds(t, "received", "delivered") - seconds(t, "generating", "generated") for t in delivered
    ]
    no_gpu_wait = [o - seconds(t, "queued", "generating") for o, t in zip(overhead, delivered, strict=True)]
    hops = {f"{a}→{b}": [seconds(t, a, b) for t in delivered] for a, b in HOPS}
    first = min(t["received"] for t in delivered)
    last = max(t["delivered"] for t in delivered)
    return {
        "overhead": latency_summary(overhead),
        "overhead_without_queued_to_generating": latency_summary(no_gpu_wait),
        "hops": {name: latency_summary(values) for name, values in hops.items()},
        "end_to_end": latency_summary([seconds(t, "received", "delivered") for t in delivered]),
        "throughput_per_second": round(len(delivered) / (last - first).total_seconds(), 3),
        "first_update_to_last_photo_seconds": round((last - first).total_seconds(), 1),
    }


def job_record(job: dict[str, Any], photos: list[float]) -> dict[str, Any]:
    """State, style, and each stamp and each sendPhoto the fake Bot API got, in ms after received."""
    times = job.get("times", {})
    ms = {s: round(seconds(times, "received", s) * 1000) for s in times if "received" in times}
    if "received" in times:
        ms |= {
            f"sendPhoto{n or ''}": round((at - times["received"].timestamp()) * 1000)
            for n, at in enumerate(photos)
        }
    received = times["received"].timestamp() if "received" in times else None
    return {
        "state": job["state"],
        "style": job.get("style"),
        "reason": job.get("reason"),
        "received_epoch": received,  # when the webhook took it: the model's arrivals (bench/capacity.py)
        "ms": ms,
    }


def photos_by_chat(telegram: FakeTelegram, chats: range) -> dict[int, list[float]]:
    """When each of our chats got a photo (the sendPhoto calls that succeeded, by the fake's clock)."""
    photos: dict[int, list[float]] = {chat: [] for chat in chats}
    for call in telegram.calls("sendPhoto"):
        chat = int(call.params.get("chat_id", 0))
        if call.ok and chat in photos:
            photos[chat].append(call.time)
    return photos


def cpu_now(stack: LocalStack) -> dict[str, float]:
    stack_cpu = sum(group_cpu_seconds(process.pid) for process in stack.supervisor.processes.values())
    return {"stack": stack_cpu + self_cpu_seconds(), "machine": machine_busy_seconds()}


def cpu_spent(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds of the stack (and this script) during the run, and of everything else."""
    stack = after["stack"] - before["stack"]
    return {"stack": round(stack, 1), "other": round(after["machine"] - before["machine"] - stack, 1)}


def print_table(result: dict[str, Any]) -> None:
    def row(name: str, summary: dict[str, float]) -> None:
        print(f"  {name:<40} {summary['p50_ms']:>9.0f} {summary['p95_ms']:>9.0f} {summary['max_ms']:>9.0f}")

    print(f"  {'ms':<40} {'p50':>9} {'p95':>9} {'max':>9}")
    row("overhead: webhook → sendPhoto − drawing", result["overhead"])
    row("  the same, queued→generating left out", result["overhead_without_queued_to_generating"])
    for name, summary in result["hops"].items():
        row(f"  {name}" + ("  (drawing: excluded)" if name == "generating→generated" else ""), summary)
    row("end to end, drawing included", result["end_to_end"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="prompts a second")
    parser.add_argument(
        "--gpu-threads", type=int, default=1, help="torch threads of the GPU service (0: all)"
    )
    parser.add_argument(
        "--time-limit", type=float, default=600.0, help="seconds to wait for the jobs at most"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    results: dict[str, Any] = {"machine": machine(), "args": vars(args)}
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (1 min) before the run")

    # In the cloud the GPU service has its own machine; here its torch would take every core from
    # the functions whose overhead is measured, unless held to a thread or so.
    extra_env = {"OMP_NUM_THREADS": str(args.gpu_threads)} if args.gpu_threads else {}
    # Cloud Run only: the endpoint stand-in forwards to the same CPU "GPU", so an overflow would
    # add a hop without adding capacity.
    config = StackConfig(
        project="imagebot-bench", bucket="imagebot-bench-images", extra_env=extra_env, gpu_route="cloudrun"
    )
    stack = LocalStack(config)
    try:
        started = time.monotonic()
        stack.start()
        print(f"stack up in {time.monotonic() - started:.0f} s (logs: {stack.config.log_dir})")
        db = firestore.Client(project=stack.config.project)
        chats = range(FIRST_CHAT, FIRST_CHAT + args.prompts)
        with FakeTelegram(stack.telegram_api_base) as telegram:
            # Each function builds its clients on its first event: a cold start, not overhead.
            warm = send_all(telegram, range(FIRST_CHAT - WARM_UP, FIRST_CHAT), rate=WARM_UP)
            wait_for_jobs(db, [f"u{r.update_id}" for r in warm], limit=120)
            print(f"warmed up with {WARM_UP} prompts; sending {args.prompts} at {args.rate:g}/s…", flush=True)
            cpu = cpu_now(stack)
            sent = send_all(telegram, chats, args.rate)
            accepted = [r for r in sent if r.status == 200]
            job_ids = [f"u{r.update_id}" for r in accepted]
            jobs = wait_for_jobs(db, job_ids, args.time_limit)
            results["cpu_seconds"] = cpu_spent(cpu, cpu_now(stack))
            time.sleep(2.0)  # a second photo for a chat would have come by now
            photos = photos_by_chat(telegram, chats)
    finally:
        stack.stop()

    results["gpu_service_log"] = str(stack.supervisor.log_path("gpu_service"))  # its batch times
    states = Counter(job["state"] for job in jobs.values())
    results["jobs"] = {
        job_id: job_record(job, photos[job["chat_id"]]) for job_id, job in sorted(jobs.items())
    }
    states["(no job)"] = len(job_ids) - len(jobs)
    results |= {
        "sent": len(sent),
        "webhook_200": len(accepted),
        "states": {state: n for state, n in states.items() if n},
        "reasons": dict(
            Counter(job.get("reason", "") for job in jobs.values() if job["state"] != "delivered")
        ),
        "chats_with_photos": dict(Counter(len(times) for times in photos.values())),
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    print(f"webhook answered 200 to {len(accepted)} of {len(sent)}; jobs: {results['states']}")
    if results["reasons"]:
        print(f"  not delivered, by reason: {results['reasons']}")
    print(f"chats by photos received: {results['chats_with_photos']} (each chat should have exactly 1)")
    incomplete = {
        job_id: sorted(set(STAMPS) - set(job.get("times", {})))
        for job_id, job in jobs.items()
        if job["state"] == "delivered" and not complete(job)
    }
    results["delivered_without_a_stamp"] = incomplete
    if incomplete:
        print(f"delivered, but a stamp missing (left out of the figures): {incomplete}")
    if states["delivered"] > len(incomplete):
        results |= figures(jobs)
        print(
            f"throughput: {results['throughput_per_second']:.2f} photos/s ({states['delivered']} in "
            f"{results['first_update_to_last_photo_seconds']} s, first update to last photo)"
        )
        print_table(results)
    cpu = results["cpu_seconds"]
    print(f"CPU seconds while measured: the stack {cpu['stack']}, other jobs on the machine {cpu['other']}")
    print(f"load average after: {results['load_average_after']}")
    print(f"saved {save('pipeline_overhead', results).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
