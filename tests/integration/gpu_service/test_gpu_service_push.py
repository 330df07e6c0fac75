"""Jobs through real HTTP into the real storage and Firestore emulators.

The tests taking `send` run twice: through the Pub/Sub push route and through the Vertex AI
predict route (conftest.send), and must see the same answers and the same objects.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict
from datetime import datetime

import httpx
import pytest
from google.cloud import firestore, storage
from PIL import Image

from gpu_service.app import create_app
from gpu_service.config import Settings
from gpu_service.contract import GenerationJob, output_metadata, output_object_name, output_object_names
from gpu_service.engine import Engine
from tests.integration.gpu_service.conftest import Answer, wait_until_ready

Push = Callable[..., httpx.Response]
Send = Callable[..., Answer]
Serve = Callable[..., AbstractContextManager[str]]


def make_job(job_id: str, **overrides: object) -> GenerationJob:
    fields: dict[str, object] = {
        "job_id": job_id,
        "chat_id": 7,
        "prompt": "a fox",
        "style": "pixel",
        "seed": 11,
    }
    return GenerationJob(**{**fields, **overrides})  # type: ignore[arg-type]


def test_a_pixel_job_becomes_a_png_with_contract_metadata_and_a_generated_document(
    send: Send,
    bucket: storage.Bucket,
    job_document: firestore.DocumentReference,
    job_in_state: Callable[[str], datetime],
    job_id: str,
) -> None:
    queued_at = job_in_state("queued")
    job = make_job(job_id, aspect="portrait")

    answer = send(job)

    assert (answer.status, answer.text) == (200, "generated")
    blob = bucket.get_blob(output_object_name(job_id, "png"))
    assert blob is not None
    assert answer.object_name in (None, blob.name)  # the predict route names it
    assert blob.content_type == "image/png"
    assert [name for name in output_object_names(job_id) if bucket.blob(name).exists()] == [blob.name]
    picture = Image.open(io.BytesIO(blob.download_as_bytes()))
    # Drawn in the portrait bucket (7:9), then the pixel grid's cells scaled up to >= 1024 px.
    width, height = picture.size
    assert picture.format == "PNG" and width >= 1024 and width * 9 == height * 7
    assert blob.metadata == output_metadata(job, width, height)
    document = job_document.get().to_dict()
    assert document["state"] == "generated"
    assert (document["seed"], document["negative_applied"]) == (job.seed, False)
    times = document["times"]
    assert queued_at <= times["generating"] <= times["generated"]
    assert document["chat_id"] == 7  # the move touched nothing else


def test_a_redelivered_job_is_acknowledged_without_drawing_again(
    caplog: pytest.LogCaptureFixture,
    send: Send,
    bucket: storage.Bucket,
    job_document: firestore.DocumentReference,
    job_in_state: Callable[[str], datetime],
    job_id: str,
) -> None:
    job_in_state("queued")
    job = make_job(job_id)
    assert send(job).status == 200
    first = bucket.get_blob(output_object_name(job_id, "png"))
    document = job_document.get().to_dict()
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="gpu_service"):
        redelivered = send(job)

    assert (redelivered.status, redelivered.text) == (200, "skipped")
    again = bucket.get_blob(output_object_name(job_id, "png"))
    assert (again.generation, again.md5_hash) == (first.generation, first.md5_hash)
    assert job_document.get().to_dict() == document
    assert "batch drawn" not in caplog.messages  # the engine was not called
    assert "output exists; skipped" in caplog.messages


def test_a_delivered_job_is_not_moved_back(
    send: Send,
    bucket: storage.Bucket,
    job_document: firestore.DocumentReference,
    job_in_state: Callable[[str], datetime],
    job_id: str,
) -> None:
    job_in_state("delivered")
    before = job_document.get().to_dict()

    answer = send(make_job(job_id))  # a late redelivery, say, after the output was cleaned up

    assert answer.status == 200, answer
    assert bucket.blob(output_object_name(job_id, "png")).exists()
    assert job_document.get().to_dict() == before


def test_a_missing_job_document_is_not_created(
    send: Send,
    bucket: storage.Bucket,
    job_document: firestore.DocumentReference,
    job_id: str,
) -> None:
    answer = send(make_job(job_id, style="ghibli"))

    assert answer == Answer(200, "generated", answer.object_name), answer
    assert answer.object_name in (None, output_object_name(job_id, "jpg"))
    assert bucket.blob(output_object_name(job_id, "jpg")).exists()
    assert not job_document.get().exists


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"this is not json", "not JSON"),
        (json.dumps({"subscription": "s"}).encode(), "no message"),
        (json.dumps({"message": {"data": "@@not base64@@", "messageId": "9"}}).encode(), "not base64"),
    ],
)
def test_a_bad_envelope_is_a_400_with_the_reason(service_url: str, body: bytes, reason: str) -> None:
    response = httpx.post(service_url, content=body, headers={"Content-Type": "application/json"})

    assert response.status_code == 400
    assert reason in response.text


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"style": "cubism"}, "unknown style"),
        ({"prompt": " "}, "empty prompt"),
        ({"seed": -5}, "seed out of range"),
        ({"version": 99}, "unsupported contract version"),
    ],
)
def test_a_job_off_contract_is_a_400_and_draws_nothing(
    send: Send, bucket: storage.Bucket, job_id: str, change: dict[str, object], reason: str
) -> None:
    fields = {**asdict(make_job(job_id)), **change}

    answer = send(json.dumps(fields).encode())

    assert answer.status == 400
    assert reason in answer.text
    assert not any(bucket.blob(name).exists() for name in output_object_names(job_id))


def test_message_data_that_is_not_a_job_is_a_400(push: Push) -> None:
    response = push(b"\x00\x01 binary garbage")

    assert response.status_code == 400
    assert "not a generation job" in response.text


def test_a_storage_failure_is_a_500_and_the_job_is_left_for_the_redelivery(
    caplog: pytest.LogCaptureFixture,
    send: Send,
    serve: Serve,
    settings: Settings,
    tiny_engine: Engine,
    storage_client: storage.Client,
    firestore_client: firestore.Client,
    job_document: firestore.DocumentReference,
    job_in_state: Callable[[str], datetime],
    job_id: str,
) -> None:
    broken = Settings(
        project=settings.project, images_bucket="no-such-bucket", vertex_routes=settings.vertex_routes
    )
    app = create_app(broken, tiny_engine, storage_client=storage_client, firestore_client=firestore_client)
    job_in_state("queued")

    with serve(app) as url:
        wait_until_ready(url)
        answer = send(make_job(job_id), url=url)
        health = httpx.get(f"{url}/healthz")

    assert answer == Answer(500, "generation failed")  # Pub/Sub redelivers it; a caller may retry
    assert health.status_code == 200  # and the process lives on
    # The output check is the first thing that touches the bucket: the job was not moved.
    assert job_document.get().to_dict()["state"] == "queued"
    failures = [r for r in caplog.records if r.name == "gpu_service.app" and r.exc_info]
    assert [type(r.exc_info[1]).__name__ for r in failures] == ["NotFound"]  # the missing bucket
