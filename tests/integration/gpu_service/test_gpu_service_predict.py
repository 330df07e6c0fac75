"""The Vertex AI predict route over real HTTP: the same pictures as the Pub/Sub route, several
jobs per request sharing pipeline calls, an answer per instance, and whole-request errors."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace

import httpx
import pytest
from google.cloud import firestore, storage

from gpu_service.app import create_app
from gpu_service.config import Settings
from gpu_service.contract import GenerationJob, output_object_name, output_object_names
from gpu_service.engine import Engine
from gpu_service.prediction import MAX_INSTANCES
from tests.support.spy import FlagEverything, spy_engine

from .conftest import PREDICT_ROUTE, wait_until_ready

Push = Callable[..., httpx.Response]
Predict = Callable[..., httpx.Response]
Serve = Callable[..., AbstractContextManager[str]]


def job(job_id: str, **fields: object) -> GenerationJob:
    base: dict[str, object] = {"chat_id": 7, "prompt": "a fox", "style": "realistic", "seed": 3}
    return GenerationJob(job_id=job_id, **{**base, **fields})  # type: ignore[arg-type]


@pytest.mark.parametrize("style", ["pixel", "ghibli"])
def test_the_same_job_through_either_route_leaves_the_same_object(
    push: Push, predict: Predict, bucket: storage.Bucket, job_id: str, style: str
) -> None:
    # Two job ids (a second job under the first one's id would be a skip), all else equal.
    pushed, predicted = job(f"{job_id}-push", style=style), job(f"{job_id}-vertex", style=style)

    push_response = push(pushed)
    predict_response = predict(predicted)

    assert push_response.status_code == 200, push_response.text
    assert predict_response.status_code == 200, predict_response.text
    extension = "png" if style == "pixel" else "jpg"
    assert predict_response.json() == {
        "predictions": [
            {
                "job_id": predicted.job_id,
                "outcome": "generated",
                "object": output_object_name(predicted.job_id, extension),
            }
        ]
    }
    by_push = bucket.get_blob(output_object_name(pushed.job_id, extension))
    by_predict = bucket.get_blob(output_object_name(predicted.job_id, extension))
    assert by_push is not None and by_predict is not None
    assert by_predict.content_type == by_push.content_type
    assert {**by_predict.metadata, "job_id": pushed.job_id} == by_push.metadata
    assert by_predict.download_as_bytes() == by_push.download_as_bytes()  # one batch of one each: same pixels


def test_one_request_of_several_jobs_shares_pipeline_calls_and_answers_each_in_order(
    serve: Serve,
    predict: Predict,
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
    good = [job(f"{job_id}-{n}", style="ghibli", seed=n) for n in range(3)]
    blocked = job(f"{job_id}-blocked", prompt="a L.O.L.I in a park")
    off_contract = {"job_id": f"{job_id}-bad", "chat_id": 7, "prompt": "a fox", "style": "cubism", "seed": 1}

    with serve(app) as url:
        wait_until_ready(url)
        spy.calls.clear()
        response = predict(good[0], blocked, good[1], off_contract, good[2], url=url)

    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == [
        {
            "job_id": good[0].job_id,
            "outcome": "generated",
            "object": output_object_name(good[0].job_id, "jpg"),
        },
        {"job_id": blocked.job_id, "error": "refused: blocked prompt", "retryable": False},
        {
            "job_id": good[1].job_id,
            "outcome": "generated",
            "object": output_object_name(good[1].job_id, "jpg"),
        },
        {
            "job_id": off_contract["job_id"],
            "error": "bad request: unknown style/aspect/mode 'cubism'/'square'/'normal'",
            "retryable": False,
        },
        {
            "job_id": good[2].job_id,
            "outcome": "generated",
            "object": output_object_name(good[2].job_id, "jpg"),
        },
    ]
    # The three good jobs reached the micro-batcher together: fewer calls than jobs.
    assert sum(len(call["prompt"]) for call in spy.calls) == 3
    assert len(spy.calls) < 3
    for name in (blocked.job_id, off_contract["job_id"]):
        assert not any(bucket.blob(object_name).exists() for object_name in output_object_names(str(name)))


def test_a_flagged_picture_through_the_predict_route_is_final_and_not_retryable(
    serve: Serve,
    predict: Predict,
    settings: Settings,
    tiny_engine: Engine,
    storage_client: storage.Client,
    firestore_client: firestore.Client,
    bucket: storage.Bucket,
    job_id: str,
    job_document: firestore.DocumentReference,
    job_in_state: Callable[[str], object],
) -> None:
    engine, _ = spy_engine(tiny_engine, safety=FlagEverything())
    app = create_app(settings, engine, storage_client=storage_client, firestore_client=firestore_client)
    job_in_state("queued")

    with serve(app) as url:
        wait_until_ready(url)
        response = predict(job(job_id), url=url)

    # dispatch_vertex reads it as refused for good and closes nothing twice: the job is rejected.
    assert response.json()["predictions"] == [
        {"job_id": job_id, "error": "refused: flagged", "retryable": False}
    ]
    assert (job_document.get().to_dict() or {})["state"] == "rejected"
    assert not any(bucket.blob(name).exists() for name in output_object_names(job_id))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"this is not json", "not JSON"),
        (b'{"parameters": {}}', 'no "instances" list'),
        (b'{"instances": []}', "no instances"),
        (
            ('{"instances": [' + ",".join(["{}"] * (MAX_INSTANCES + 1)) + "]}").encode(),
            f"at most {MAX_INSTANCES} per request",
        ),
    ],
)
def test_a_body_that_is_not_a_prediction_request_is_a_400(service_url: str, body: bytes, reason: str) -> None:
    response = httpx.post(
        f"{service_url}{PREDICT_ROUTE}", content=body, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json"
    assert reason in response.json()["error"]


def test_without_vertex_settings_the_predict_route_is_not_served(
    serve: Serve, settings: Settings, tiny_engine: Engine, predict: Predict, job_id: str
) -> None:
    app = create_app(replace(settings, vertex_routes=None), tiny_engine)

    with serve(app) as url:
        response = predict(job(job_id), url=url)

    assert response.status_code == 404
