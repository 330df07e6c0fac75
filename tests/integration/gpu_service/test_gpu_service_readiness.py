"""/healthz answers at once; /readyz (and Vertex AI's health route), job pushes and predictions
wait for the engine to be loaded and warm."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
from google.cloud import firestore, storage

from gpu_service.app import create_app
from gpu_service.config import Settings
from gpu_service.contract import GenerationJob
from gpu_service.engine import Engine

from .conftest import HEALTH_ROUTE, READY_TIMEOUT_SECONDS

Push = Callable[..., httpx.Response]
Serve = Callable[..., AbstractContextManager[str]]


def test_readyz_is_503_until_the_engine_is_warm_then_200(
    serve: Serve,
    push: Push,
    predict: Callable[..., httpx.Response],
    settings: Settings,
    tiny_engine: Engine,
    storage_client: storage.Client,
    firestore_client: firestore.Client,
) -> None:
    loading = threading.Event()

    def slow_load(_: Settings) -> Engine:
        loading.wait(timeout=30)  # stands in for minutes of loading real weights
        return tiny_engine

    app = create_app(
        settings,
        load_engine=slow_load,
        storage_client=storage_client,
        firestore_client=firestore_client,
        ready_timeout=0.2,
    )
    job = GenerationJob(
        job_id=f"it-{uuid.uuid4().hex[:16]}", chat_id=7, prompt="a fox", style="ghibli", seed=1
    )

    with serve(app) as url:
        health = httpx.get(f"{url}/healthz")
        cold = httpx.get(f"{url}/readyz")
        cold_vertex = httpx.get(f"{url}{HEALTH_ROUTE}")
        early_push = push(job, url=url)
        early_predict = predict(job, url=url)
        loading.set()
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS  # then the warm-up of every shape
        while (warm := httpx.get(f"{url}/readyz")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        warm_vertex = httpx.get(f"{url}{HEALTH_ROUTE}")

    assert health.status_code == 200
    assert (cold.status_code, cold.text.strip()) == (503, "warming up")
    # Vertex AI routes no prediction to the replica until its health route answers 200.
    assert (cold_vertex.status_code, cold_vertex.text.strip()) == (503, "warming up")
    assert early_push.status_code == 503  # Pub/Sub redelivers it later
    assert (early_predict.status_code, early_predict.json()) == (503, {"error": "engine not ready"})
    assert (warm.status_code, warm.text.strip()) == (200, "ready")
    assert (warm_vertex.status_code, warm_vertex.text.strip()) == (200, "ready")


def test_an_engine_that_fails_to_load_keeps_readyz_503_with_the_reason(
    serve: Serve, push: Push, settings: Settings
) -> None:
    def broken_load(_: Settings) -> Engine:
        raise RuntimeError("MODEL_DIR/pixel is not a diffusers pipeline folder")

    app = create_app(settings, load_engine=broken_load, ready_timeout=5)
    job = GenerationJob(job_id="it-broken", chat_id=7, prompt="a fox", style="pixel", seed=1)

    with serve(app) as url:
        pushed = push(job, url=url)  # returns as soon as loading has failed, not after 5 s
        ready = httpx.get(f"{url}/readyz")
        health = httpx.get(f"{url}/healthz")

    assert pushed.status_code == 503
    assert ready.status_code == 503
    assert "engine failed to load: RuntimeError: MODEL_DIR/pixel" in ready.text
    assert health.status_code == 200
