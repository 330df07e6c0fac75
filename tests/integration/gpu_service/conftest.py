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
from dataclasses import asdict
from datetime import UTC, datetime

import httpx
import pytest
from flask import Flask
from google.cloud import firestore, storage
from werkzeug.serving import make_server

from gpu_service.app import create_app
from gpu_service.config import Settings
from gpu_service.contract import GenerationJob
from gpu_service.engine import Engine, load_engine
from local.emulators import EmulatorHosts
from tests.conftest import BUCKET, PROJECT

Push = Callable[..., httpx.Response]
Serve = Callable[..., AbstractContextManager[str]]


@pytest.fixture(scope="session")
def settings(emulators: EmulatorHosts) -> Settings:
    return Settings.from_env({"GOOGLE_CLOUD_PROJECT": PROJECT, "IMAGES_BUCKET": BUCKET})


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


def wait_until_ready(url: str, timeout: float = 60.0) -> None:
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
