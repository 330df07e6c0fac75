"""The whole local stack, started once per test session on the session's emulators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.emulators import EmulatorHosts
from local.fake_telegram_client import FakeTelegram
from local.stack import LocalStack, StackConfig
from tests.conftest import PROJECT

# A bucket of its own: the stack's event bridge announces every new output in its bucket, and
# the integration tests' outputs in the shared emulator must not reach the stack's delivery.
E2E_BUCKET = "imagebot-e2e-images"


@pytest.fixture(scope="session")
def stack(emulators: EmulatorHosts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    config = StackConfig(
        project=PROJECT,
        bucket=E2E_BUCKET,
        emulators=emulators,
        log_dir=tmp_path_factory.mktemp("stack-logs"),
        # Overflow to the Vertex AI stand-in only behind a job seeded an hour old
        # (test_pipeline.py): a busy test machine's queue must not move other tests' jobs.
        extra_env={"OVERFLOW_QUEUE_AGE_SECONDS": "900"},
    )
    stack = LocalStack(config).start()
    yield stack
    stack.stop()


@pytest.fixture
def telegram(stack: LocalStack) -> Iterator[FakeTelegram]:
    with FakeTelegram(stack.telegram_api_base) as client:
        yield client
