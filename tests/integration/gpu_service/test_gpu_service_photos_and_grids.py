"""Photo jobs (img2img), grids of four and cancelled jobs, over real HTTP into the real
storage, Firestore and Pub/Sub emulators, on the tiny pipeline.

The tests taking `send` run through both routes (Pub/Sub push and Vertex AI predict)."""

from __future__ import annotations

import dataclasses
import io
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import httpx
import numpy as np
import pytest
from google.cloud import firestore, storage
from PIL import Image

from gpu_service.app import create_app
from gpu_service.config import Settings
from gpu_service.contract import (
    GRID_SIZE,
    GenerationJob,
    candidate_object_name,
    candidate_seed,
    input_object_name,
    output_metadata,
    output_object_name,
    output_object_names,
)
from gpu_service.engine import Engine
from tests.conftest import PROJECT
from tests.integration.gpu_service.conftest import PREDICT_ROUTE, Answer, envelope, wait_until_ready
from tests.support.pubsub import TopicTap

Send = Callable[..., Answer]
Serve = Callable[..., AbstractContextManager[str]]
TOPIC = "it-photo-progress"


def make_job(job_id: str, **overrides: object) -> GenerationJob:
    fields: dict[str, object] = {
        "job_id": job_id,
        "chat_id": 7,
        "prompt": "a fox",
        "style": "realistic",
        "seed": 11,
    }
    return GenerationJob(**{**fields, **overrides})  # type: ignore[arg-type]


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (320, 240)) -> bytes:
    image = Image.new("RGB", size, colour)
    image.paste((250, 250, 250), (40, 30, 160, 120))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def store_photo(bucket: storage.Bucket, job_id: str, data: bytes) -> str:
    name = input_object_name(job_id)
    bucket.blob(name).upload_from_string(data, content_type="image/jpeg")
    return name


def pixels(blob: storage.Blob) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(blob.download_as_bytes())).convert("RGB")).astype(np.int16)


def nothing_written(bucket: storage.Bucket, job_id: str) -> bool:
    return not list(bucket.list_blobs(prefix=f"outputs/{job_id}.")) and not list(
        bucket.list_blobs(prefix=f"candidates/{job_id}/")
    )


def push_job(url: str, job: GenerationJob) -> httpx.Response:
    """The job as a push delivery."""
    return httpx.post(url, json=envelope(json.dumps(dataclasses.asdict(job)).encode()), timeout=60)


def both_routes(url: str, job: GenerationJob) -> tuple[httpx.Response, httpx.Response]:
    """The job through the push route, then through the predict route."""
    pushed = push_job(url, job)
    return pushed, httpx.post(
        f"{url}{PREDICT_ROUTE}", json={"instances": [dataclasses.asdict(job)]}, timeout=60
    )


@pytest.fixture
def with_progress(
    settings: Settings,
    tiny_engine: Engine,
    storage_client: storage.Client,
    firestore_client: firestore.Client,
    serve: Serve,
) -> Iterator[tuple[str, TopicTap]]:
    """The service with a progress topic, and a tap on that topic."""
    tap = TopicTap(PROJECT, TOPIC)
    app = create_app(
        dataclasses.replace(settings, progress_topic=TOPIC),
        tiny_engine,
        storage_client=storage_client,
        firestore_client=firestore_client,
    )
    with serve(app) as url:
        wait_until_ready(url)
        yield url, tap


def test_a_photo_job_is_drawn_from_its_photo(
    send: Send,
    bucket: storage.Bucket,
    job_document: firestore.DocumentReference,
    job_in_state: Callable[[str], datetime],
    job_id: str,
) -> None:
    job_in_state("queued")
    red = make_job(job_id, input_image=store_photo(bucket, job_id, jpeg((220, 30, 30))))
    # Another job, the same prompt and seed, another photo.
    other_id = f"{job_id}-b"
    blue = make_job(other_id, input_image=store_photo(bucket, other_id, jpeg((30, 30, 220))))
    text = make_job(f"{job_id}-t")

    answers = [send(job) for job in (red, blue, text)]

    assert [(a.status, a.text) for a in answers] == [(200, "generated")] * 3
    drawn = [bucket.get_blob(output_object_name(job.job_id, "jpg")) for job in (red, blue, text)]
    assert all(blob is not None for blob in drawn)
    assert drawn[0].metadata == output_metadata(
        red, *Image.open(io.BytesIO(drawn[0].download_as_bytes())).size
    )
    red_pixels, blue_pixels, text_pixels = (pixels(blob) for blob in drawn)
    assert np.abs(red_pixels - blue_pixels).mean() > 1.0  # the photo is where the picture starts
    assert np.abs(red_pixels - text_pixels).mean() > 5.0  # and it is no text picture
    assert job_document.get().to_dict()["state"] == "generated"


def test_a_job_whose_photo_is_gone_is_rejected_told_and_acknowledged(
    with_progress: tuple[str, TopicTap],
    bucket: storage.Bucket,
    job_document: firestore.DocumentReference,
    job_in_state: Callable[[str], datetime],
    job_id: str,
) -> None:
    url, tap = with_progress
    job_in_state("queued")
    job = make_job(job_id, input_image=input_object_name(job_id))  # never stored (or deleted)

    pushed, predicted = both_routes(url, job)

    assert (pushed.status_code, pushed.text.strip()) == (200, "input_missing")
    assert predicted.json()["predictions"] == [
        {"job_id": job_id, "error": "refused: input_missing", "retryable": False}
    ]
    document = job_document.get().to_dict() or {}
    assert (document["state"], document["reason"]) == ("rejected", "input_missing")
    assert "rejected" in document["times"]
    assert nothing_written(bucket, job_id)
    # One event per delivery, each a rejection (no "generating" before it: nothing was drawn).
    events = [json.loads(m.data) for m in tap.drain(expect=2, timeout=10)]
    assert events == [{"version": 2, "job_id": job_id, "state": "rejected", "reason": "input_missing"}] * 2


def test_an_input_that_is_no_picture_is_refused_with_a_400(
    send: Send, bucket: storage.Bucket, job_in_state: Callable[[str], datetime], job_id: str
) -> None:
    job_in_state("queued")
    job = make_job(job_id, input_image=store_photo(bucket, job_id, b"GIF89a but not really"))

    answer = send(job)

    assert (answer.status, answer.text) == (400, "refused: bad input image")
    assert nothing_written(bucket, job_id)


def test_a_grid_writes_four_candidates_and_then_their_collage(
    send: Send,
    bucket: storage.Bucket,
    job_document: firestore.DocumentReference,
    job_in_state: Callable[[str], datetime],
    job_id: str,
) -> None:
    job_in_state("queued")
    job = make_job(job_id, style="pixel", candidates=GRID_SIZE, seed=2**32 - 1)

    answer = send(job)

    assert (answer.status, answer.text) == (200, "generated")
    candidates = [bucket.get_blob(candidate_object_name(job_id, n, "png")) for n in range(1, GRID_SIZE + 1)]
    assert all(blob is not None for blob in candidates)
    output = bucket.get_blob(output_object_name(job_id, "png"))
    assert output is not None and answer.object_name in (None, output.name)
    first = Image.open(io.BytesIO(candidates[0].download_as_bytes()))
    sheet = Image.open(io.BytesIO(output.download_as_bytes()))
    assert sheet.size == (2 * first.width, 2 * first.height)
    assert output.metadata == output_metadata(job, *sheet.size)
    assert output.metadata["candidates"] == "4" and "flagged" not in output.metadata
    for n, blob in enumerate(candidates, 1):
        assert blob.metadata["candidate"] == str(n)
        assert blob.metadata["seed"] == str(candidate_seed(job.seed, n))
        # the candidate was finished before the collage: delivery, woken by the output, finds it
        assert blob.time_created <= output.time_created
    assert job_document.get().to_dict()["state"] == "generated"
    before = written(bucket, job_id)

    again = send(job)  # a redelivery: no redraw, nothing overwritten

    assert (again.status, again.text) == (200, "skipped")
    assert written(bucket, job_id) == before and len(before) == GRID_SIZE + 1
    assert all(generation is not None for generation, _ in before.values())


def written(bucket: storage.Bucket, job_id: str) -> dict[str, tuple[object, object]]:
    """(generation, md5) of each object of the job: any rewrite changes the generation."""
    blobs = [
        *bucket.list_blobs(prefix=f"outputs/{job_id}."),
        *bucket.list_blobs(prefix=f"candidates/{job_id}/"),
    ]
    return {blob.name: (blob.generation, blob.md5_hash) for blob in blobs}


def test_a_cancelled_job_is_not_drawn_moved_or_told(
    with_progress: tuple[str, TopicTap],
    bucket: storage.Bucket,
    job_document: firestore.DocumentReference,
    job_in_state: Callable[[str], datetime],
    job_id: str,
) -> None:
    url, tap = with_progress
    job_in_state("cancelled")
    before = job_document.get().to_dict()
    job = make_job(job_id, candidates=GRID_SIZE)

    pushed, predicted = both_routes(url, job)

    assert (pushed.status_code, pushed.text.strip()) == (200, "cancelled")  # acknowledged
    assert predicted.json()["predictions"] == [{"job_id": job_id, "outcome": "skipped", "object": None}]
    assert nothing_written(bucket, job_id)
    assert job_document.get().to_dict() == before
    # Progress is published before a request is answered; a marker job's event, published
    # after both answers, is then the first and only one on the topic.
    marker = make_job(f"{job_id}-marker", input_image=input_object_name(f"{job_id}-marker"))
    push_job(url, marker)
    assert [json.loads(m.data)["job_id"] for m in tap.drain(expect=1, timeout=10)] == [marker.job_id]


class CancelledWhileDrawing:
    """The tiny engine, with the user pressing cancel while each batch is drawn."""

    def __init__(self, engine: Engine, document: firestore.DocumentReference) -> None:
        self.engine = engine
        self.document = document

    def plan_for(self, job: GenerationJob) -> Any:
        return self.engine.plan_for(job)

    def draw_batch(
        self, jobs: Sequence[GenerationJob], inits: Sequence[Image.Image | None] | None = None
    ) -> Any:
        drawn = self.engine.draw_batch(jobs, inits)
        self.document.update({"state": "cancelled"})
        return drawn

    def warm_up(self) -> None:
        return None  # the shared tiny engine is warm already


@pytest.mark.parametrize("candidates", [1, GRID_SIZE])
def test_a_job_cancelled_while_drawn_writes_nothing(
    settings: Settings,
    tiny_engine: Engine,
    storage_client: storage.Client,
    firestore_client: firestore.Client,
    serve: Serve,
    bucket: storage.Bucket,
    job_document: firestore.DocumentReference,
    job_in_state: Callable[[str], datetime],
    job_id: str,
    candidates: int,
) -> None:
    engine = CancelledWhileDrawing(tiny_engine, job_document)
    app = create_app(settings, engine, storage_client=storage_client, firestore_client=firestore_client)
    job_in_state("queued")
    job = make_job(job_id, style="ghibli", candidates=candidates)

    with serve(app) as url:
        wait_until_ready(url)
        response = push_job(url, job)

    assert (response.status_code, response.text.strip()) == (200, "cancelled")
    assert nothing_written(bucket, job_id)
    assert not any(bucket.blob(name).exists() for name in output_object_names(job_id))
    assert job_document.get().to_dict()["state"] == "cancelled"
