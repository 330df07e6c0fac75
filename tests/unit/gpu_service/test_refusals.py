"""The disguised-prompt corpus at the second checkpoint: the GPU service refuses the job itself,
through its real routes (a Pub/Sub push and a Vertex AI prediction), before any drawing.

The engine here is ready but never reached: an accepted job goes on to its output bucket, which
this test's storage client records and refuses, so "accepted" is seen as "went on to be drawn".
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import asdict

import pytest
from flask.testing import FlaskClient

from gpu_service.app import create_app
from gpu_service.config import Settings
from gpu_service.contract import GenerationJob
from tests.support.disguised_prompts import DISGUISED, INNOCENT

HEALTH_ROUTE = "/v1/endpoints/1/deployedModels/2"
PREDICT_ROUTE = f"{HEALTH_ROUTE}:predict"


class IdleEngine:
    """Warm at once; a job that got this far would fail loudly."""

    def plan_for(self, job: GenerationJob) -> str:
        return job.style

    def draw_batch(self, jobs: Sequence[GenerationJob]) -> Sequence[Exception]:
        return [AssertionError("a job reached the engine") for _ in jobs]

    def warm_up(self) -> None:
        pass


class RecordingStorage:
    """The output bucket is where an accepted job goes first: record it, and stop there."""

    def __init__(self) -> None:
        self.reached = 0

    def bucket(self, name: str) -> object:
        self.reached += 1
        raise RuntimeError("no storage in this test")


@pytest.fixture(scope="module")
def storage() -> RecordingStorage:
    return RecordingStorage()


@pytest.fixture(scope="module")
def client(storage: RecordingStorage) -> FlaskClient:
    settings = Settings.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": "test",
            "IMAGES_BUCKET": "images",
            "AIP_HEALTH_ROUTE": HEALTH_ROUTE,
            "AIP_PREDICT_ROUTE": PREDICT_ROUTE,
        }
    )
    app = create_app(settings, IdleEngine(), storage_client=storage, firestore_client=object())
    return app.test_client()


def job(prompt: str) -> dict[str, object]:
    return asdict(GenerationJob(job_id="u1", chat_id=7, prompt=prompt, style="pixel", seed=1))


def push(client: FlaskClient, prompt: str) -> tuple[int, str]:
    data = base64.b64encode(json.dumps(job(prompt)).encode()).decode()
    body = {"message": {"data": data, "messageId": "1"}, "subscription": "projects/test/subscriptions/s"}
    response = client.post("/", json=body)
    return response.status_code, response.get_data(as_text=True).strip()


def predict(client: FlaskClient, prompt: str) -> dict[str, object]:
    response = client.post(PREDICT_ROUTE, json={"instances": [job(prompt)]})
    assert response.status_code == 200
    (prediction,) = response.get_json()["predictions"]
    return prediction


@pytest.mark.parametrize(("disguise", "prompt"), DISGUISED, ids=[f"{d}: {p!a}" for d, p in DISGUISED])
def test_a_disguised_prompt_is_refused_by_both_routes(
    client: FlaskClient, storage: RecordingStorage, disguise: str, prompt: str
) -> None:
    before = storage.reached
    assert push(client, prompt) == (400, "refused: blocked prompt"), disguise
    prediction = predict(client, prompt)
    assert (prediction["error"], prediction["retryable"]) == ("refused: blocked prompt", False)
    assert storage.reached == before  # never went on to be drawn


@pytest.mark.parametrize("prompt", INNOCENT, ids=ascii)
def test_an_innocent_prompt_goes_on_to_be_drawn_by_both_routes(
    client: FlaskClient, storage: RecordingStorage, prompt: str
) -> None:
    before = storage.reached
    assert push(client, prompt) == (500, "generation failed")  # this test's storage refused it
    prediction = predict(client, prompt)
    assert (prediction["error"], prediction["retryable"]) == ("generation failed", True)
    assert storage.reached == before + 2
