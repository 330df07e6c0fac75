from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from imagebot.config import ConfigError, Settings
from imagebot.core.ops import Mode
from imagebot.core.routing import ENDPOINT_REST, GpuRoute, choose_route
from imagebot.edges.gpu_endpoint import EndpointUnavailable
from imagebot.flows.dispatch_vertex import Outcome, read_prediction

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ENDPOINT = "projects/p/locations/europe-west4/endpoints/123"
BASE_ENV = {
    "GOOGLE_CLOUD_PROJECT": "p",
    "TELEGRAM_BOT_TOKEN": "t",
    "TELEGRAM_WEBHOOK_SECRET": "s",
    "IMAGES_BUCKET": "b",
}


def route(
    setting: str, waited: float | None, mode: Mode = Mode.NORMAL, failed: float | None = None
) -> GpuRoute:
    asked: list[str] = []

    def oldest() -> datetime | None:
        asked.append("queue")
        return None if waited is None else NOW - timedelta(seconds=waited)

    def failed_at() -> datetime | None:
        asked.append("endpoint")
        return None if failed is None else NOW - timedelta(seconds=failed)

    chosen = choose_route(setting, mode, oldest, failed_at, NOW, overflow_after_seconds=60)
    # Fixed routes read nothing; the endpoint's health is read only when the queue is old.
    overflowing = setting == "auto" and mode == Mode.NORMAL and waited is not None and waited > 60
    assert asked == (
        ["queue", "endpoint"]
        if overflowing
        else ["queue"]
        if setting == "auto" and mode == Mode.NORMAL
        else []
    )
    return chosen


@pytest.mark.parametrize(
    ("setting", "waited", "mode", "expected"),
    [
        ("cloudrun", 3600, Mode.NORMAL, GpuRoute.CLOUD_RUN),
        ("vertex", None, Mode.NORMAL, GpuRoute.VERTEX),
        ("vertex", None, Mode.ECONOMY, GpuRoute.VERTEX),
        ("auto", None, Mode.NORMAL, GpuRoute.CLOUD_RUN),  # nothing waiting
        ("auto", 59.9, Mode.NORMAL, GpuRoute.CLOUD_RUN),
        ("auto", 60.1, Mode.NORMAL, GpuRoute.VERTEX),
        ("auto", 3600, Mode.ECONOMY, GpuRoute.CLOUD_RUN),  # the budget guard asked for less spend
    ],
)
def test_route_choice(setting, waited, mode, expected):
    assert route(setting, waited, mode) == expected


@pytest.mark.parametrize(
    ("failed", "expected"), [(60, GpuRoute.CLOUD_RUN), (299, GpuRoute.CLOUD_RUN), (301, GpuRoute.VERTEX)]
)
def test_auto_rests_an_endpoint_that_just_failed_to_answer(failed, expected):
    assert timedelta(minutes=5) == ENDPOINT_REST
    assert route("auto", 3600, failed=failed) == expected


def test_the_route_settings_are_checked_at_start_up():
    assert Settings.from_env(BASE_ENV).gpu_route == "cloudrun"
    settings = Settings.from_env({**BASE_ENV, "GPU_ROUTE": "auto", "VERTEX_ENDPOINT": ENDPOINT})
    assert (settings.gpu_route, settings.vertex_endpoint_region) == ("auto", "europe-west4")
    with pytest.raises(ConfigError, match="needs VERTEX_ENDPOINT"):
        Settings.from_env({**BASE_ENV, "GPU_ROUTE": "vertex"})
    with pytest.raises(ConfigError, match="one of cloudrun, vertex, auto"):
        Settings.from_env({**BASE_ENV, "GPU_ROUTE": "lambda"})
    with pytest.raises(ConfigError, match="VERTEX_ENDPOINT must be"):
        Settings.from_env({**BASE_ENV, "GPU_ROUTE": "auto", "VERTEX_ENDPOINT": "123"})


@pytest.mark.parametrize(
    ("prediction", "outcome", "reason"),
    [
        ({"job_id": "j1", "outcome": "generated", "object": "outputs/j1.png"}, Outcome.DRAWN, "generated"),
        ({"job_id": "j1", "outcome": "skipped", "object": "outputs/j1.png"}, Outcome.DRAWN, "skipped"),
        (
            {"job_id": "j1", "error": "refused: nsfw", "retryable": False},
            Outcome.REFUSED,
            "vertex endpoint: refused: nsfw",
        ),
        (
            {"job_id": "j1", "error": "generation failed", "retryable": True},
            Outcome.RETRY,
            "vertex endpoint: generation failed",
        ),
    ],
)
def test_what_a_prediction_says(prediction, outcome, reason):
    verdict = read_prediction(prediction, "j1")
    assert (verdict.outcome, verdict.reason) == (outcome, reason)


@pytest.mark.parametrize("prediction", [{"job_id": "j2", "outcome": "generated"}, {"job_id": "j1"}, {}])
def test_a_prediction_for_another_job_or_of_no_shape_is_no_answer(prediction):
    with pytest.raises(EndpointUnavailable):
        read_prediction(prediction, "j1")
