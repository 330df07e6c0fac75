"""Functions under test run as real functions-framework servers against the emulators."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from imagebot.config import Settings
from imagebot.runtime import Runtime

from local.emulators import EmulatorHosts
from local.fake_telegram import FakeTelegramConfig, FakeTelegramServer
from local.fake_telegram_client import FakeTelegram
from local.processes import Supervisor, free_port
from tests.conftest import BUCKET, PROJECT
from tests.support.pubsub import ensure_topic

ROOT = Path(__file__).resolve().parents[3]
BOT_TOKEN = "123456:TEST-TOKEN"
WEBHOOK_SECRET = "test-webhook-secret"
OPERATOR_ID = 4242
TOPICS = {
    "PROMPTS_TOPIC": "it-prompts",
    "VALIDATED_TOPIC": "it-validated",
    "GENERATION_TOPIC": "it-generation",
}


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
        "--source=main.py",
        "--target=telegram_webhook",
        "--host=127.0.0.1",
        f"--port={port}",
    ]
    # The webhook never calls the Bot API itself, so no Telegram stand-in is needed here.
    env = function_env(emulators, telegram_api_base="http://127.0.0.1:9")
    supervisor.start(
        "telegram_webhook", argv, ready_url=f"http://127.0.0.1:{port}", env=env, cwd=ROOT / "functions"
    )
    yield f"http://127.0.0.1:{port}"
    supervisor.stop()


@pytest.fixture(scope="session")
def telegram_server() -> Iterator[FakeTelegramServer]:
    with FakeTelegramServer(FakeTelegramConfig(token=BOT_TOKEN)) as server:
        yield server


@pytest.fixture
def telegram(telegram_server: FakeTelegramServer) -> Iterator[FakeTelegram]:
    with FakeTelegram(telegram_server.base_url) as client:
        client.reset()
        yield client


@pytest.fixture(scope="session")
def runtime(emulators: EmulatorHosts, telegram_server: FakeTelegramServer) -> Runtime:
    """The functions' own Runtime, in this process, against the emulators and the fake Bot API."""
    for topic in TOPICS.values():
        ensure_topic(PROJECT, topic)
    settings = Settings.from_env(
        {
            **function_env(emulators, telegram_server.base_url),
            "RATE_BURST": "2",
            "OPERATOR_IDS": str(OPERATOR_ID),
        }
    )
    return Runtime(settings)
