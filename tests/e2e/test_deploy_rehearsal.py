"""A deploy rehearsal: the build's own scripts, deploy/telegram_setup.py and deploy/smoke.py, run
as Cloud Build runs them (tests/infra/deploy_steps.py) against the local stack: the functions
under functions-framework, the GPU service, the emulators and the fake Bot API. (deploy/rollout.py
rehearses against the Cloud Run Admin API stand-in in tests/infra/test_rollout.py.)"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from local.emulators import EmulatorHosts
from local.stack import LocalStack
from tests.e2e.conftest import E2E_BUCKET
from tests.infra.deploy_steps import build_env, step


@pytest.fixture
def with_secrets(stack: LocalStack, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Cloud Build's secretEnv: the token and the secret, from Secret Manager there."""
    return {
        **build_env(tmp_path_factory.mktemp("bin")),
        "TELEGRAM_BOT_TOKEN": stack.config.bot_token,
        "TELEGRAM_WEBHOOK_SECRET": stack.config.webhook_secret,
    }


@pytest.fixture
def stack_webhook_restored(stack: LocalStack) -> Iterator[None]:
    """The stack's own registration again afterwards (what other tests of the session expect)."""
    yield
    httpx.post(
        f"{stack.telegram_api_base}/bot{stack.config.bot_token}/setWebhook",
        json={"url": stack.webhook_url, "secret_token": stack.config.webhook_secret, "max_connections": 100},
        timeout=10,
    ).raise_for_status()


def smoke_args(stack: LocalStack, emulators: EmulatorHosts, since: float, build_id: str) -> list[str]:
    gpu = stack.urls["gpu_service"]
    return [
        f"--gpu-url={gpu}",
        f"--gpu-candidate-url={gpu}",  # Cloud Run's tag URL has no local counterpart
        f"--bucket={E2E_BUCKET}",
        f"--build-id={build_id}",
        f"--storage-api={emulators.storage}",
        f"--webhook-url={stack.webhook_url}",
        f"--webhook-probe-url={stack.webhook_url}",  # dev: the build reaches the function itself
        f"--since={since}",
        f"--telegram-api={stack.telegram_api_base}",
        "--ready-timeout=120",
    ]


@pytest.fixture
def bucket_objects(emulators: EmulatorHosts) -> Callable[[], list[str]]:
    def names() -> list[str]:
        listing = httpx.get(f"{emulators.storage}/storage/v1/b/{E2E_BUCKET}/o", timeout=10).json()
        return [item["name"] for item in listing.get("items") or []]

    return names


def test_register_then_smoke_a_deploy_of_the_local_stack(
    stack, emulators, with_secrets, stack_webhook_restored, bucket_objects
):
    since = time.time()
    registered = step(
        "telegram_setup.py",
        f"--url={stack.webhook_url}",
        f"--api={stack.telegram_api_base}",
        env=with_secrets,
    )
    assert registered.returncode == 0, registered.stdout + registered.stderr
    assert "setWebhook: ok" in registered.stdout and "getWebhookInfo: ok url matches" in registered.stdout

    build_id = f"rehearsal-{uuid.uuid4().hex[:8]}"
    smoke = step("smoke.py", *smoke_args(stack, emulators, since, build_id), env=with_secrets)

    assert smoke.returncode == 0, smoke.stdout + smoke.stderr
    for check in (
        "PASS gpu /readyz",
        "PASS gpu synthetic job",
        "PASS gpu output object",
        "PASS Telegram reaches the webhook (getWebhookInfo): no delivery error since the deploy",
        "PASS webhook refuses a request without the secret (the function's 401): 401",
        "PASS webhook accepts Telegram's secret: 200",
    ):
        assert check in smoke.stdout, smoke.stdout
    assert not [name for name in bucket_objects() if name.startswith(f"outputs/smoke-{build_id}")]
    for secret in (stack.config.bot_token, stack.config.webhook_secret):
        assert secret not in smoke.stdout + smoke.stderr + registered.stdout + registered.stderr


def test_the_smoke_test_fails_when_the_webhook_does_not_take_the_secret(stack, emulators, with_secrets):
    wrong = {**with_secrets, "TELEGRAM_WEBHOOK_SECRET": "not-the-deployed-secret"}
    args = [a for a in smoke_args(stack, emulators, time.time(), "unused") if not a.startswith("--gpu")]

    smoke = step("smoke.py", *args, env=wrong)

    assert smoke.returncode == 1, smoke.stdout + smoke.stderr
    assert "FAIL webhook accepts Telegram's secret: 401" in smoke.stdout
