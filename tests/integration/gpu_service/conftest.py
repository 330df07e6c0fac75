"""The GPU service over real HTTP, against the real Firestore and Cloud Storage emulators.

Keep tests/integration/__init__.py: without it this package would import as `gpu_service`
and shadow the service itself.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import httpx
import pytest
from flask import Flask
from google.cloud import firestore, storage
from werkzeug.serving import make_server

from gpu_service.app import create_app
from gpu_service.config import Settings
from gpu_service.contract import GenerationJob
from gpu_service.engine import Engine
from gpu_service.loading import load_engine
from local.emulators import EmulatorHosts
from tests.conftest import BUCKET, PROJECT

Push = Callable[..., httpx.Response]
Serve = Callable[..., AbstractContextManager[str]]


# The routes as Vertex AI sets them on a deployed model (AIP_HEALTH_ROUTE, AIP_PREDICT_ROUTE).
HEALTH_ROUTE = "/v1/endpoints/1234/deployedModels/5678"
PREDICT_ROUTE = "/v1/endpoints/1234/deployedModels/5678:predict"


@pytest.fixture(scope="session")
def settings(emulators: EmulatorHosts) -> Settings:
    # Vertex's routes on: one app serves both the Pub/Sub push route and the predict route,
    # so every test can send the same job either way.
    return Settings.from_env(
        {
            "GOOGLE_CLOUD_PROJECT": PROJECT,
            "IMAGES_BUCKET": BUCKET,
            "AIP_HEALTH_ROUTE": HEALTH_ROUTE,
            "AIP_PREDICT_ROUTE": PREDICT_ROUTE,
        }
    )


@pytest.fixture(scope="session")
def storage_client(emulators: EmulatorHosts) -> storage.Client:
    return storage.Client(project=PROJECT)  # finds STORAGE_EMULATOR_HOST, set by `emulators`


@pytest.fixture(scope="session")
def firestore_client(emulators: EmulatorHosts) -> firestore.Client:
    return firestore.Client(project=PROJECT)  # finds FIRESTORE_EMULATOR_HOST


@pytest.fixture(scope="session")
def bucket(storage_client: storage.Client) -> storage.Bucket:
    return storage_client.bucket(BUCKET)


@pytest.fixture(scope="session")
def tiny_engine() -> Engine:
    return load_engine(None, device="cpu")


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app behind a real threaded HTTP server on a free loopback port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="gpu-service-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


# Warm-up draws every served shape (27 on the tiny pipeline): seconds on an idle laptop, much
# longer on a shared CI machine. The same bound the local stack gives the service.
READY_TIMEOUT_SECONDS = 180.0


def wait_until_ready(url: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while httpx.get(f"{url}/readyz", timeout=5).status_code != 200:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url}/readyz did not turn 200 within {timeout:.0f}s")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def serve() -> Serve:
    """`with serve(app) as url:` runs an app of the test's own over real HTTP."""
    return serving


@pytest.fixture(scope="session")
def service_url(
    settings: Settings,
    tiny_engine: Engine,
    storage_client: storage.Client,
    firestore_client: firestore.Client,
) -> Iterator[str]:
    app = create_app(settings, tiny_engine, storage_client=storage_client, firestore_client=firestore_client)
    with serving(app) as url:
        wait_until_ready(url)
        yield url


def envelope(data: bytes, message_id: str = "1") -> dict[str, object]:
    """A Pub/Sub push body, as the push subscription posts it."""
    return {
        "message": {"data": base64.b64encode(data).decode(), "messageId": message_id, "attributes": {}},
        "subscription": f"projects/{PROJECT}/subscriptions/generation-jobs-push",
    }


@pytest.fixture
def push(service_url: str) -> Push:
    """Post a job (or raw message data) to the service, as a push delivery."""

    def post(message: GenerationJob | bytes, *, url: str = service_url) -> httpx.Response:
        data = json.dumps(asdict(message)).encode() if isinstance(message, GenerationJob) else message
        return httpx.post(url, json=envelope(data), timeout=60)

    return post


@pytest.fixture
def predict(service_url: str) -> Callable[..., httpx.Response]:
    """Post jobs (or raw instances) to the service's Vertex AI predict route, in one request."""

    def post(*instances: GenerationJob | object, url: str = service_url) -> httpx.Response:
        body = [asdict(item) if isinstance(item, GenerationJob) else item for item in instances]
        return httpx.post(f"{url}{PREDICT_ROUTE}", json={"instances": body, "parameters": {}}, timeout=60)

    return post


@dataclass(frozen=True)
class Answer:
    """What became of one job, whichever route carried it, in the push route's terms:
    200 generated|skipped, 400 <why never>, 500/503 <why not now>."""

    status: int
    text: str
    object_name: str | None = None  # the predict route names the output; the push route does not


ROUTES = ("push", "predict")


@pytest.fixture(params=ROUTES)
def send(
    request: pytest.FixtureRequest, push: Push, predict: Callable[..., httpx.Response]
) -> Callable[..., Answer]:
    """Send one job through the route of the test's parameter: each test runs for both."""

    def through_push(message: GenerationJob | bytes, *, url: str | None = None) -> Answer:
        response = push(message) if url is None else push(message, url=url)
        return Answer(response.status_code, response.text.strip())

    def through_predict(message: GenerationJob | bytes, *, url: str | None = None) -> Answer:
        instance = message if isinstance(message, GenerationJob) else json.loads(message)
        response = predict(instance) if url is None else predict(instance, url=url)
        if response.status_code != 200:
            return Answer(response.status_code, response.json()["error"])
        (prediction,) = response.json()["predictions"]
        if "error" in prediction:
            return Answer(500 if prediction["retryable"] else 400, prediction["error"])
        return Answer(200, prediction["outcome"], prediction["object"])

    return through_push if request.param == "push" else through_predict


@pytest.fixture
def job_id() -> str:
    return f"it-{uuid.uuid4().hex[:16]}"


@pytest.fixture
def job_document(firestore_client: firestore.Client, job_id: str) -> firestore.DocumentReference:
    return firestore_client.collection("jobs").document(job_id)


@pytest.fixture
def job_in_state(job_document: firestore.DocumentReference) -> Callable[[str], datetime]:
    """Write the job document as the functions leave it; returns its last stamped time."""

    def write(state: str) -> datetime:
        stamped = datetime.now(UTC).replace(microsecond=0)
        job_document.set({"state": state, "chat_id": 7, "times": {state: stamped}})
        return stamped

    return write
