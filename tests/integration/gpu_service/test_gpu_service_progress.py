"""The GPU service tells the functions when it starts drawing: a progress event on Pub/Sub."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import datetime

import httpx
from google.cloud import firestore, storage

from gpu_service.app import create_app
from gpu_service.config import Settings
from gpu_service.contract import GenerationJob
from gpu_service.engine import Engine
from tests.conftest import PROJECT
from tests.integration.gpu_service.conftest import Serve, envelope, wait_until_ready
from tests.support.pubsub import TopicTap

TOPIC = "it-job-progress"


def test_drawing_a_job_publishes_one_progress_event(
    settings: Settings,
    tiny_engine: Engine,
    storage_client: storage.Client,
    firestore_client: firestore.Client,
    serve: Serve,
    job_id: str,
    job_in_state: Callable[[str], datetime],
) -> None:
    tap = TopicTap(PROJECT, TOPIC)
    with_progress = dataclasses.replace(settings, progress_topic=TOPIC)
    app = create_app(
        with_progress, tiny_engine, storage_client=storage_client, firestore_client=firestore_client
    )
    job_in_state("queued")
    job = GenerationJob(job_id=job_id, chat_id=7, prompt="a fox", style="ghibli", seed=3)
    with serve(app) as url:
        wait_until_ready(url)
        body = envelope(json.dumps(dataclasses.asdict(job)).encode())
        assert httpx.post(url, json=body, timeout=60).status_code == 200
        assert httpx.post(url, json=body, timeout=60).text.strip() == "skipped"  # no second event

    (message,) = tap.drain(expect=2, timeout=3)
    assert json.loads(message.data) == {"version": 2, "job_id": job_id, "state": "generating"}
    assert message.attributes["job_id"] == job_id
