"""Functions under test run as real functions-framework servers against the emulators."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.emulators import EmulatorHosts
from local.processes import Supervisor, free_port
from tests.conftest import BUCKET, PROJECT

ROOT = Path(__file__).resolve().parents[3]
BOT_TOKEN = "123456:TEST-TOKEN"
WEBHOOK_SECRET = "test-webhook-secret"
TOPICS = {"PROMPTS_TOPIC": "it-prompts", "VALIDATED_TOPIC": "it-validated", "GENERATION_TOPIC": "it-generation"}


def function_env(hosts: EmulatorHosts, telegram_api_base: str) -> dict[str, str]:
    return {
        **hosts.environment(),
        **TOPICS,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "IMAGES_BUCKET": BUCKET,
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "TELEGRAM_API_BASE": telegram_api_base,
    }


@pytest.fixture(scope="session")
def webhook_url(emulators: EmulatorHosts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    supervisor = Supervisor(tmp_path_factory.mktemp("webhook-logs"))
    port = free_port()
    argv = [
        str(Path(sys.executable).with_name("functions-framework")),
        "--source=main.py", "--target=telegram_webhook", "--host=127.0.0.1", f"--port={port}",
    ]
    # The webhook never calls the Bot API itself, so no Telegram stand-in is needed here.
    env = function_env(emulators, telegram_api_base="http://127.0.0.1:9")
    supervisor.start("telegram_webhook", argv, ready_url=f"http://127.0.0.1:{port}", env=env, cwd=ROOT / "functions")
    yield f"http://127.0.0.1:{port}"
    supervisor.stop()
