"""Concurrent pushes over real HTTP: micro-batching, a failure that stays with its job, and
the blocked prompt that Pub/Sub must dead-letter (through the Vertex AI predict route too), and
the flagged picture that ends its job at once."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import replace

import httpx
from google.cloud import firestore, storage
from PIL import Image

from gpu_service.app import create_app
from gpu_service.config import Settings
from gpu_service.contract import GenerationJob, output_object_name, output_object_names
from gpu_service.engine import Engine
from tests.conftest import PROJECT
from tests.support.pubsub import TopicTap
from tests.support.spy import FlagEverything, spy_engine

from .conftest import Answer, wait_until_ready

Push = Callable[..., httpx.Response]
Send = Callable[..., Answer]
Serve = Callable[..., AbstractContextManager[str]]
FLAGGED_TOPIC = "it-job-progress-flagged"


def jobs(prefix: str, count: int, **fields: object) -> list[GenerationJob]:
    base: dict[str, object] = {"chat_id": 7, "prompt": "a fox", "style": "ghibli"}
    return [GenerationJob(job_id=f"{prefix}-{n}", seed=n, **{**base, **fields}) for n in range(count)]  # type: ignore[arg-type]


def push_together(push: Push, url: str, batch: list[GenerationJob]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(batch)) as pool:
        return list(pool.map(lambda job: push(job, url=url), batch))


def test_concurrent_jobs_of_one_style_share_pipeline_calls_and_each_gets_its_own_picture(
    serve: Serve,
    push: Push,
    settings: Settings,
    tiny_engine: Engine,
    storage_client: storage.Client,
    firestore_client: firestore.Client,
    bucket: storage.Bucket,
    job_id: str,
) -> None:
    engine, spy = spy_engine(tiny_engine)
    batching = replace(settings, batch_max_size=4, batch_window_ms=1500)
    app = create_app(batching, engine, storage_client=storage_client, firestore_client=firestore_client)
    batch = jobs(job_id, 4)

    with serve(app) as url:
        wait_until_ready(url)  # warm-up calls are not the jobs' calls
        spy.calls.clear()
        responses = push_together(push, url, batch)

    assert [r.status_code for r in responses] == [200] * 4, [r.text for r in responses]
    job_calls = [call for call in spy.calls if call["prompt"][0] != "ghibli style, warm-up"]
    assert len(job_calls) < len(batch)  # fewer pipeline calls than jobs
    assert sorted(g.initial_seed() for call in job_calls for g in call["generator"]) == [0, 1, 2, 3]
    pictures = [bucket.get_blob(output_object_name(job.job_id, "jpg")) for job in batch]
    assert all(blob is not None and blob.content_type == "image/jpeg" for blob in pictures)
    assert len({blob.md5_hash for blob in pictures}) == 4  # four seeds, four pictures
    assert all(blob.metadata["seed"] == str(job.seed) for blob, job in zip(pictures, batch, strict=True))


def test_a_failing_job_fails_alone_with_a_500_and_its_batch_mates_succeed(
    serve: Serve,
    push: Push,
    settings: Settings,
    tiny_engine: Engine,
    storage_client: storage.Client,
    firestore_client: firestore.Client,
    bucket: storage.Bucket,
    job_id: str,
) -> None:
    engine, spy = spy_engine(tiny_engine)
    spy.fail_when = lambda call: any("poison" in prompt for prompt in call["prompt"])
    app = create_app(
        replace(settings, batch_window_ms=1500),
        engine,
        storage_client=storage_client,
        firestore_client=firestore_client,
    )
    batch = jobs(job_id, 3)
    batch[1] = replace(batch[1], prompt="a poison apple")

    with serve(app) as url:
        wait_until_ready(url)
        responses = push_together(push, url, batch)

    assert [r.status_code for r in responses] == [200, 500, 200]
    exists = [any(bucket.blob(name).exists() for name in output_object_names(job.job_id)) for job in batch]
    assert exists == [True, False, True]


def test_a_blocked_prompt_is_refused_with_a_400_and_nothing_is_drawn(
    send: Send,
    bucket: storage.Bucket,
    job_document: firestore.DocumentReference,
    job_in_state: Callable[[str], object],
    job_id: str,
) -> None:
    job_in_state("queued")
    before = job_document.get().to_dict()

    answer = send(
        GenerationJob(job_id=job_id, chat_id=7, prompt="a L.O.L.I in a park", style="pixel", seed=1)
    )

    assert answer == Answer(400, "refused: blocked prompt")
    assert not any(bucket.blob(name).exists() for name in output_object_names(job_id))
    assert job_document.get().to_dict() == before


def test_a_flagged_picture_rejects_the_job_at_once_tells_the_functions_and_is_acknowledged(
    serve: Serve,
    push: Push,
    settings: Settings,
    tiny_engine: Engine,
    storage_client: storage.Client,
    firestore_client: firestore.Client,
    bucket: storage.Bucket,
    job_id: str,
    job_document: firestore.DocumentReference,
    job_in_state: Callable[[str], object],
) -> None:
    tap = TopicTap(PROJECT, FLAGGED_TOPIC)
    engine, _ = spy_engine(tiny_engine, safety=FlagEverything())
    with_progress = replace(settings, progress_topic=FLAGGED_TOPIC)
    app = create_app(with_progress, engine, storage_client=storage_client, firestore_client=firestore_client)
    job_in_state("queued")

    with serve(app) as url:
        wait_until_ready(url)
        response = push(
            GenerationJob(job_id=job_id, chat_id=7, prompt="a fox", style="ghibli", seed=1), url=url
        )

    # 200: acknowledged, so Pub/Sub neither retries it nor dead-letters it into a failure.
    assert (response.status_code, response.text.strip()) == (200, "rejected")
    document = job_document.get().to_dict() or {}
    assert (document["state"], document["reason"]) == ("rejected", "flagged")
    assert "rejected" in document["times"]
    assert not any(bucket.blob(name).exists() for name in output_object_names(job_id))
    events = sorted((json.loads(m.data) for m in tap.drain(expect=2, timeout=10)), key=lambda e: e["state"])
    assert events == [
        {"version": 2, "job_id": job_id, "state": "generating"},
        {"version": 2, "job_id": job_id, "state": "rejected", "reason": "flagged"},
    ]


def test_an_output_under_another_extension_counts_as_done(
    push: Push, bucket: storage.Bucket, job_id: str
) -> None:
    # Say pixel art was WebP in the deployment that drew it: the redelivery must not draw again.
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "navy").save(buffer, format="WEBP")
    bucket.blob(output_object_name(job_id, "webp")).upload_from_string(
        buffer.getvalue(), content_type="image/webp"
    )

    response = push(GenerationJob(job_id=job_id, chat_id=7, prompt="a fox", style="pixel", seed=1))

    assert (response.status_code, response.text.strip()) == (200, "skipped")
    assert not bucket.blob(output_object_name(job_id, "png")).exists()
