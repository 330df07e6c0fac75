"""Smoke-test a deploy before it takes traffic.

    python3 deploy/smoke.py --gpu-url URL --bucket B --build-id ID [--webhook-url URL]

1. The GPU candidate (the new revision, reached through its `candidate` tag, no traffic yet):
   /readyz turns 200 (the models are loaded and one picture was drawn at start-up).
2. A synthetic job through it: a Pub/Sub push envelope holding a generation job for the job id
   `smoke-<build id>` (the contract's shape), answered 200, and its output object
   `outputs/smoke-<build id>.*` (whatever image format the service writes) present in the images
   bucket; then removed. (deliver_image is
   notified of it too, finds no such job, and logs that it skipped it.)
3. The webhook refuses a request without Telegram's secret token (403): it is up, and its secret
   check is live.

Exit status 0 when every check passed; 1 otherwise, after printing which check failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploy import gcloud  # noqa: E402

CANDIDATE_TAG = "candidate"
SMOKE_CHAT_ID = 0  # no such chat: the job is never delivered to anyone


# --- pure ---------------------------------------------------------------------------------------


def tag_url(service_url: str, tag: str = CANDIDATE_TAG) -> str:
    """https://SERVICE-HASH-REGION.a.run.app → https://TAG---SERVICE-HASH-REGION.a.run.app"""
    parts = urllib.parse.urlsplit(service_url)
    if parts.scheme != "https" or not parts.hostname or not parts.hostname.endswith(".run.app"):
        raise ValueError(f"not a Cloud Run service URL: {service_url!r}")
    return f"https://{tag}---{parts.hostname}"


def smoke_job_id(build_id: str) -> str:
    """A job id the contract accepts ([A-Za-z0-9_-]{1,64}), unique per build."""
    cleaned = "".join(c for c in build_id if c.isalnum() or c in "-_")[:50]
    if not cleaned:
        raise ValueError("empty build id")
    return f"smoke-{cleaned}"


def generation_job(job_id: str) -> dict[str, Any]:
    """A generation job as rate_limit publishes it (contract version 1)."""
    return {
        "version": 1,
        "job_id": job_id,
        "chat_id": SMOKE_CHAT_ID,
        "prompt": "a lighthouse on a cliff at dusk",
        "style": "pixel",
        "seed": 1,
        "negative_prompt": "",
        "aspect": "square",
        "mode": "economy",  # the cheapest path
    }


def push_envelope(job: dict[str, Any], message_id: str) -> dict[str, Any]:
    """The body Pub/Sub push posts to the GPU service."""
    data = base64.b64encode(json.dumps(job).encode()).decode()
    return {
        "message": {"data": data, "messageId": message_id, "attributes": {"job_id": job["job_id"]}},
        "subscription": "projects/smoke/subscriptions/smoke",
    }


def output_prefix(job_id: str) -> str:
    """The output object is `outputs/<job_id>.<extension>`; the extension is the service's choice."""
    return f"outputs/{job_id}."


def listed_names(listing: dict[str, Any]) -> list[str]:
    """Object names from a Cloud Storage JSON API `objects.list` answer."""
    return [item["name"] for item in listing.get("items") or []]


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Calls `check` until it is true or `timeout` seconds have passed; never raises for it."""
    deadline = clock() + timeout
    while True:
        try:
            if check():
                return True
        except (OSError, ValueError):
            pass  # not up yet
        if clock() >= deadline:
            return False
        sleep(interval)


@dataclass(frozen=True)
class Verdict:
    name: str
    passed: bool
    detail: str


def summary(verdicts: list[Verdict]) -> tuple[bool, str]:
    lines = [f"{'PASS' if v.passed else 'FAIL'} {v.name}: {v.detail}" for v in verdicts]
    return all(v.passed for v in verdicts) and bool(verdicts), "\n".join(lines)


# --- I/O ----------------------------------------------------------------------------------------


def http(
    method: str, url: str, token: str | None = None, body: Any = None, timeout: float = 60
) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def check_gpu(gpu_url: str, bucket: str, build_id: str, ready_timeout: float) -> list[Verdict]:
    candidate = tag_url(gpu_url)
    token = gcloud.identity_token(gpu_url)
    ready = wait_until(
        lambda: http("GET", f"{candidate}/readyz", token, timeout=10)[0] == 200, ready_timeout, 10
    )
    verdicts = [Verdict("gpu /readyz", ready, candidate)]
    if not ready:
        return verdicts
    job_id = smoke_job_id(build_id)
    status, body = http(
        "POST", f"{candidate}/", token, push_envelope(generation_job(job_id), build_id), timeout=600
    )
    verdicts.append(
        Verdict("gpu synthetic job", status == 200, f"{status} {body[:200].decode(errors='replace')}")
    )
    prefix = output_prefix(job_id)
    list_url = (
        f"https://storage.googleapis.com/storage/v1/b/{bucket}/o?prefix={urllib.parse.quote(prefix, safe='')}"
    )
    storage_token = gcloud.access_token()
    names: list[str] = []

    def listed() -> bool:
        status, body = http("GET", list_url, storage_token, timeout=10)
        names[:] = listed_names(json.loads(body)) if status == 200 else []
        return bool(names)

    found = wait_until(listed, 60, 5)
    verdicts.append(
        Verdict("gpu output object", found, f"gs://{bucket}/{names[0] if names else prefix + '*'}")
    )
    for name in names:
        http(
            "DELETE",
            f"https://storage.googleapis.com/storage/v1/b/{bucket}/o/{urllib.parse.quote(name, safe='')}",
            storage_token,
        )
    return verdicts


def check_webhook(webhook_url: str) -> list[Verdict]:
    status, _ = http("POST", webhook_url, body={"update_id": 1}, timeout=30)
    return [Verdict("webhook refuses a request without the secret", status == 403, str(status))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpu-url", help="the GPU service's URL; empty: the GPU was not deployed")
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--build-id", required=True)
    parser.add_argument("--webhook-url", help="empty: the functions were not deployed")
    parser.add_argument("--ready-timeout", type=float, default=900)
    args = parser.parse_args(argv)

    verdicts: list[Verdict] = []
    if args.gpu_url:
        verdicts += check_gpu(args.gpu_url, args.bucket, args.build_id, args.ready_timeout)
    if args.webhook_url:
        verdicts += check_webhook(args.webhook_url)
    passed, text = summary(verdicts)
    print(text or "nothing to check")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
