"""Smoke-test a deploy before it takes traffic.

    TELEGRAM_BOT_TOKEN=… TELEGRAM_WEBHOOK_SECRET=… python3 deploy/smoke.py --bucket B --build-id ID \
        [--gpu-url URL] [--webhook-url URL [--webhook-probe-url URL] --since UNIX_TIME]

1. The GPU candidate (the new revision, reached through its `candidate` tag, no traffic yet):
   /readyz turns 200 (the models are loaded and one picture was drawn at start-up).
2. A synthetic job through it: a Pub/Sub push envelope holding a generation job for the job id
   `smoke-<build id>` (the contract's shape), answered 200, and its output object
   `outputs/smoke-<build id>.<png|jpg|webp>` (whatever image format the service writes) present
   in the images bucket; then removed. Read by name, never listed: the deployer may touch the
   smoke test's objects only, not users' pictures. (deliver_image is notified of it too, finds
   no such job, and logs that it skipped it.)
3. The webhook, as Telegram sees it: getWebhookInfo (the Bot API, authenticated by the token)
   names the webhook URL and reports no delivery error since the deploy began (`--since`):
   Telegram reached the new code through the edge and was answered 200.
4. The webhook itself, where the build can reach it (`--webhook-probe-url`: the function's own
   URL in dev; in prod Cloud Armor admits Telegram only, so check 3 stands alone): a request
   without the secret is refused with the function's own 401, and one with the secret (an update
   of no kind, which the bot ignores) is answered 200. A status the edge can give (403 from Cloud
   Armor or the ingress setting) never passes.

The token and the secret come from the environment (Cloud Build's secretEnv) and are never
printed.

Exit status 0 when every check passed; 1 otherwise, after printing which check failed.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script from the repository root
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deploy import gcloud  # noqa: E402

CANDIDATE_TAG = "candidate"
SMOKE_CHAT_ID = 0  # no such chat: the job is never delivered to anyone
# The extensions the GPU service may write (gpu_service/contract.py; tests/infra keeps them equal).
OUTPUT_EXTENSIONS = ("png", "jpg", "webp")
STORAGE_API = "https://storage.googleapis.com"
TELEGRAM_API = "https://api.telegram.org"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
IGNORED_UPDATE = {"update_id": 0}  # no message, no button: the bot answers 200 and does nothing


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


def output_names(job_id: str) -> list[str]:
    """The output object is `outputs/<job_id>.<extension>`; the extension is the service's choice."""
    return [f"outputs/{job_id}.{extension}" for extension in OUTPUT_EXTENSIONS]


def webhook_info_verdict(info: dict[str, Any], webhook_url: str, since: float) -> Verdict:
    """What getWebhookInfo says about the webhook since the deploy began."""
    name = "Telegram reaches the webhook (getWebhookInfo)"
    if info.get("url") != webhook_url:
        # The first deploy: register-webhook, after the promotion, sets it.
        return Verdict(name, True, "not registered at this URL yet; register-webhook will set it")
    error_at = info.get("last_error_date")
    if error_at is not None and error_at >= since:
        return Verdict(name, False, f"delivery error since the deploy: {info.get('last_error_message')}")
    return Verdict(
        name, True, f"no delivery error since the deploy ({info.get('pending_update_count', 0)} pending)"
    )


def probe_verdicts(refused: int, accepted: int) -> list[Verdict]:
    """The function's own answers: 401 without the secret, 200 with it."""
    return [
        Verdict(
            "webhook refuses a request without the secret (the function's 401)",
            refused == 401,
            str(refused) + ("" if refused != 403 else ": 403 is not the function (Cloud Armor or ingress)"),
        ),
        Verdict("webhook accepts Telegram's secret", accepted == 200, str(accepted)),
    ]


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

http = gcloud.http


def check_gpu(
    gpu_url: str,
    bucket: str,
    build_id: str,
    ready_timeout: float,
    candidate_url: str = "",
    storage_api: str = STORAGE_API,
) -> list[Verdict]:
    candidate = candidate_url or tag_url(gpu_url)
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
    objects = f"{storage_api.rstrip('/')}/storage/v1/b/{bucket}/o/"
    storage_token = gcloud.access_token()
    names: list[str] = []

    def written() -> bool:
        names[:] = [
            name
            for name in output_names(job_id)
            if http("GET", objects + urllib.parse.quote(name, safe=""), storage_token, timeout=10)[0] == 200
        ]
        return bool(names)

    found = wait_until(written, 60, 5)
    verdicts.append(
        Verdict("gpu output object", found, f"gs://{bucket}/{names[0] if names else output_names(job_id)[0]}")
    )
    for name in names:
        http("DELETE", objects + urllib.parse.quote(name, safe=""), storage_token)
    return verdicts


def check_webhook(
    webhook_url: str, probe_url: str, since: float, token: str, secret: str, api: str = TELEGRAM_API
) -> list[Verdict]:
    status, body = http("POST", f"{api.rstrip('/')}/bot{token}/getWebhookInfo", body={}, timeout=30)
    answer = json.loads(body or b"{}") if status == 200 else {}
    if not answer.get("ok"):
        verdicts = [
            Verdict("Telegram reaches the webhook (getWebhookInfo)", False, f"Bot API answered {status}")
        ]
    else:
        verdicts = [webhook_info_verdict(answer["result"], webhook_url, since)]
    if probe_url:
        refused, _ = http("POST", probe_url, body=IGNORED_UPDATE, timeout=30)
        accepted, _ = http(
            "POST", probe_url, body=IGNORED_UPDATE, timeout=30, headers={SECRET_HEADER: secret}
        )
        verdicts += probe_verdicts(refused, accepted)
    return verdicts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gpu-url", help="the GPU service's URL; empty: the GPU was not deployed")
    parser.add_argument("--gpu-candidate-url", default="", help="default: the URL of its candidate tag")
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--build-id", required=True)
    parser.add_argument("--storage-api", default=STORAGE_API)
    parser.add_argument("--webhook-url", help="what Telegram calls; empty: the functions were not deployed")
    parser.add_argument("--webhook-probe-url", default="", help="the webhook as the build reaches it (dev)")
    parser.add_argument("--since", type=float, default=0.0, help="when the deploy began (Unix time)")
    parser.add_argument("--telegram-api", default=TELEGRAM_API)
    parser.add_argument("--ready-timeout", type=float, default=900)
    args = parser.parse_args(argv)

    verdicts: list[Verdict] = []
    if args.gpu_url:
        verdicts += check_gpu(
            args.gpu_url,
            args.bucket,
            args.build_id,
            args.ready_timeout,
            args.gpu_candidate_url,
            args.storage_api,
        )
    if args.webhook_url:
        token, secret = (
            os.environ.get("TELEGRAM_BOT_TOKEN", ""),
            os.environ.get("TELEGRAM_WEBHOOK_SECRET", ""),
        )
        if not token or not secret:
            print("TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET must be set", file=sys.stderr)
            return 2
        verdicts += check_webhook(
            args.webhook_url, args.webhook_probe_url, args.since, token, secret, args.telegram_api
        )
    passed, text = summary(verdicts)
    print(text or "nothing to check")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
