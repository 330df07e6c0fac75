"""The whole local stack, started once per test session on the session's emulators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.emulators import EmulatorHosts
from local.event_bridge import EventarcRetry
from local.fake_telegram_client import FakeTelegram
from local.processes import RestartPolicy
from local.stack import LocalStack, StackConfig
from tests.conftest import PROJECT
from tests.support.pubsub import TopicTap

# A bucket of its own: the stack's event bridge announces every new output in its bucket, and
# the integration tests' outputs in the shared emulator must not reach the stack's delivery.
E2E_BUCKET = "imagebot-e2e-images"
# Time compressed for tests: Eventarc's backoff shape (doubling, capped) from 0.5 s to 10 s
# instead of 10 s to 600 s, for ten minutes instead of 24 h; a sweep every few seconds instead
# of every five minutes; a crashed process back within a second or two.
E2E_EVENTARC = EventarcRetry(initial_backoff=0.5, max_backoff=10.0, retention=600.0)
E2E_SWEEP_PERIOD = 3.0
E2E_RESTART = RestartPolicy(initial_backoff=0.5, max_backoff=5.0, stable_after=30.0)
E2E_ALBUM_MAX_PHOTOS = 2  # an album of a few photos is enough to pass the limit (test_photos.py)
# The stack's one operator (/pause, /resume, an operator's /refund: test_stars.py), in that
# module's own id range, and the contact /paysupport names.
E2E_OPERATOR_ID = 27_999_999
E2E_SUPPORT_CONTACT = "@imagebot_e2e_support"


@pytest.fixture(scope="session")
def stack(emulators: EmulatorHosts, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    config = StackConfig(
        project=PROJECT,
        bucket=E2E_BUCKET,
        emulators=emulators,
        log_dir=tmp_path_factory.mktemp("stack-logs"),
        # Overflow to the Vertex AI stand-in only behind a job seeded half an hour old
        # (test_pipeline.py): a busy test machine's queue must not move other tests' jobs.
        # The sweep (every E2E_SWEEP_PERIOD) fails jobs older than JOB_DEADLINE_SECONDS: an hour
        # here, so the job test_pipeline.py seeds half an hour old stays queued while it overflows.
        # A photo Telegram refuses is tried again after 0.5 s, doubling up to 5 s (10 s and
        # 300 s in the cloud); the client waits out a 429 of up to 5 s in the call (30 s).
        extra_env={
            "OVERFLOW_QUEUE_AGE_SECONDS": "900",
            "JOB_DEADLINE_SECONDS": "3600",
            "DELIVERY_RETRY_INITIAL_SECONDS": "0.5",
            "DELIVERY_RETRY_MAX_SECONDS": "5",
            "TELEGRAM_MAX_WAIT_SECONDS": "5",
            "ALBUM_MAX_PHOTOS": str(E2E_ALBUM_MAX_PHOTOS),
            "OPERATOR_IDS": str(E2E_OPERATOR_ID),
            "SUPPORT_CONTACT": E2E_SUPPORT_CONTACT,
        },
        eventarc=E2E_EVENTARC,
        sweep_period=E2E_SWEEP_PERIOD,
        restart=E2E_RESTART,
    )
    stack = LocalStack(config).start()
    yield stack
    stack.stop()


@pytest.fixture
def prompts_tap(stack: LocalStack) -> TopicTap:
    """Every update the webhook publishes from now on."""
    return TopicTap(PROJECT, "prompts")


@pytest.fixture
def telegram(stack: LocalStack) -> Iterator[FakeTelegram]:
    with FakeTelegram(stack.telegram_api_base) as client:
        yield client
