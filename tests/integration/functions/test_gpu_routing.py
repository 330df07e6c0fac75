"""The second GPU home: rate_limit routes jobs to the Vertex AI endpoint (GPU_ROUTE), and
dispatch_vertex sends them there through google-cloud-aiplatform's real PredictionService client
(REST) against a local stand-in of the endpoint, with the Firestore and Pub/Sub emulators.

The stand-in answers with scripted predictions here; the e2e test (tests/e2e/test_pipeline.py)
forwards to the real GPU container instead and gets a photo."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from imagebot.core.jobs import Job, State
from imagebot.core.ops import Mode, Ops
from imagebot.flows import dispatch_vertex, rate_limit
from imagebot.runtime import Runtime

from gpu_service.contract import GenerationJob as GpuSideJob
from local.fake_vertex import FakeVertex
from local.processes import free_port
from tests.conftest import PROJECT
from tests.integration.functions.conftest import TOPICS
from tests.support.events import pubsub_event_data, unique_ids
from tests.support.jobs import put_job
from tests.support.pubsub import TopicTap

ids = unique_ids(17_000_000)
VERTEX_TOPIC = "it-vertex-jobs"
ENDPOINT = f"projects/{PROJECT}/locations/europe-west4/endpoints/4242"


@pytest.fixture(scope="module")
def vertex() -> Iterator[FakeVertex]:
    fake = FakeVertex().start()
    yield fake
    fake.stop()


def routed(runtime: Runtime, vertex: FakeVertex, route: str, **settings: Any) -> Runtime:
    vertex.reset()
    return Runtime(
        replace(
            runtime.settings,
            gpu_route=route,
            vertex_endpoint=ENDPOINT,
            vertex_api_endpoint=vertex.endpoint,
            vertex_jobs_topic=VERTEX_TOPIC,
            vertex_predict_timeout_seconds=30.0,
            **settings,
        )
    )


@pytest.fixture
def taps(emulators) -> tuple[TopicTap, TopicTap]:
    """(the Cloud Run queue, the endpoint's queue)"""
    return TopicTap(PROJECT, TOPICS["GENERATION_TOPIC"]), TopicTap(PROJECT, VERTEX_TOPIC)


@pytest.fixture
def normal_mode(runtime: Runtime) -> Iterator[None]:
    yield
    runtime.config.set_ops(Ops(mode=Mode.NORMAL))


@pytest.fixture
def old_cloud_run_job(runtime: Runtime) -> Iterator[str]:
    """A job that has waited ten minutes for the Cloud Run service: it is saturated, or down.
    (And an endpoint with no failure on record.)"""
    runtime.db.collection("config").document("gpu_endpoint").delete()
    job_id = f"u{next(ids)}"
    put_job(runtime, job_id, next(ids), State.QUEUED, gpu_route="cloudrun")
    runtime.jobs.set_job_fields(job_id, **{"times.queued": datetime.now(UTC) - timedelta(minutes=10)})
    yield job_id
    runtime.db.collection("jobs").document(job_id).delete()  # it would count in others' queues


def admit_new_job(rt: Runtime) -> Job:
    job_id = f"u{next(ids)}"
    put_job(rt, job_id, next(ids), State.VALIDATED, style="pixel")
    rate_limit.handle_message(pubsub_event_data(job_id.encode()), rt)
    return rt.jobs.get_job(job_id)


def test_gpu_route_vertex_sends_every_job_to_the_endpoint_queue(runtime, vertex, telegram, taps):
    cloud_run, endpoint = taps
    job = admit_new_job(routed(runtime, vertex, "vertex"))

    assert job.state == State.QUEUED and job.gpu_route == "vertex"
    (message,) = endpoint.drain(expect=1)
    sent = GpuSideJob.from_json(message.data)
    assert (sent.job_id, sent.seed, sent.style) == (job.job_id, job.seed, "pixel")
    assert message.attributes["job_id"] == job.job_id
    assert cloud_run.quiet(0.5) == []
    assert len(telegram.calls("sendMessage")) == 1  # the status message, as on the Cloud Run route


def test_auto_overflows_to_the_endpoint_only_while_the_cloud_run_queue_is_old(
    runtime, vertex, telegram, taps, old_cloud_run_job
):
    cloud_run, endpoint = taps
    rt = routed(runtime, vertex, "auto", overflow_queue_age_seconds=60.0)

    overflowed = admit_new_job(rt)
    assert overflowed.gpu_route == "vertex"
    assert [m.attributes["job_id"] for m in endpoint.drain(expect=1)] == [overflowed.job_id]

    runtime.jobs.move_job(old_cloud_run_job, State.GENERATING, datetime.now(UTC))  # the service caught up
    back_home = admit_new_job(rt)
    assert back_home.gpu_route == "cloudrun"
    assert [m.attributes["job_id"] for m in cloud_run.drain(expect=1)] == [back_home.job_id]
    assert endpoint.quiet(0.5) == []


def test_after_a_hand_back_auto_rests_the_endpoint(runtime, vertex, telegram, taps, old_cloud_run_job):
    cloud_run, endpoint = taps
    rt = routed(runtime, vertex, "auto", overflow_queue_age_seconds=60.0)
    vertex.predict_failures = 1
    first = admit_new_job(rt)
    (message,) = endpoint.drain(expect=1)
    dispatch_vertex.handle_message(
        pubsub_event_data(message.data, **dict(message.attributes)), rt
    )  # 503: handed back
    assert [m.attributes["job_id"] for m in cloud_run.drain(expect=1)] == [first.job_id]

    second = admit_new_job(rt)  # the queue is still old, but the endpoint just failed

    assert second.gpu_route == "cloudrun" and endpoint.quiet(0.5) == []
    assert [m.attributes["job_id"] for m in cloud_run.drain(expect=1)] == [second.job_id]
    assert runtime.config.endpoint_failed_at() is not None


def test_auto_does_not_overflow_in_economy_mode(
    runtime, vertex, telegram, taps, old_cloud_run_job, normal_mode
):
    cloud_run, endpoint = taps
    runtime.config.set_ops(Ops(mode=Mode.ECONOMY, reason="budget at 90%", set_by="budget"))

    job = admit_new_job(routed(runtime, vertex, "auto", overflow_queue_age_seconds=60.0))

    assert job.gpu_route == "cloudrun"
    assert len(cloud_run.drain(expect=1)) == 1 and endpoint.quiet(0.5) == []


def queued_for_endpoint(rt: Runtime, endpoint: TopicTap) -> tuple[Job, dict[str, Any]]:
    """A job admitted to the endpoint's queue, and the event of the message rate_limit published."""
    job = admit_new_job(rt)
    (message,) = endpoint.drain(expect=1)
    return job, pubsub_event_data(message.data, **dict(message.attributes))


def test_dispatch_sends_the_job_to_the_endpoint_and_leaves_delivery_to_the_bucket(
    runtime, vertex, telegram, taps
):
    cloud_run, _ = taps
    rt = routed(runtime, vertex, "vertex")
    received: list[dict[str, Any]] = []
    vertex.predict_answer = lambda instance: (
        received.append(instance)
        or {
            "job_id": instance["job_id"],
            "outcome": "generated",
            "object": f"outputs/{instance['job_id']}.png",
        }
    )
    job, event = queued_for_endpoint(rt, taps[1])

    dispatch_vertex.handle_message(event, rt)

    # Through a protobuf Value the seed travels as a double; the container reads it back whole.
    (instance,) = received
    assert (
        instance["job_id"] == job.job_id and instance["seed"] == job.seed and instance["prompt"] == job.prompt
    )
    after = rt.jobs.get_job(job.job_id)
    assert after.state == State.QUEUED and after.gpu_route == "vertex" and after.handed_back is None
    assert cloud_run.quiet(0.5) == []


def test_a_job_refused_by_the_container_fails_now_and_the_user_is_told(runtime, vertex, telegram, taps):
    rt = routed(runtime, vertex, "vertex")
    vertex.predict_answer = lambda instance: {
        "job_id": instance["job_id"],
        "error": "refused: nsfw",
        "retryable": False,
    }
    job, event = queued_for_endpoint(rt, taps[1])

    dispatch_vertex.handle_message(event, rt)

    after = rt.jobs.get_job(job.job_id)
    assert after.state == State.FAILED and after.reason == "vertex endpoint: refused: nsfw"
    (edit,) = telegram.calls("editMessageText")
    assert edit.params["text"].startswith("Sorry, I couldn't draw")


def test_a_retryable_failure_is_raised_for_pub_sub_to_redeliver(runtime, vertex, telegram, taps):
    cloud_run, _ = taps
    rt = routed(runtime, vertex, "vertex")
    vertex.predict_answer = lambda instance: {
        "job_id": instance["job_id"],
        "error": "generation failed",
        "retryable": True,
    }
    job, event = queued_for_endpoint(rt, taps[1])

    with pytest.raises(dispatch_vertex.GenerationFailed, match="generation failed"):
        dispatch_vertex.handle_message(event, rt)

    assert rt.jobs.get_job(job.job_id).state == State.QUEUED
    assert cloud_run.quiet(0.5) == []


@pytest.mark.parametrize("failure", ["503", "connection refused", "another job's prediction"])
def test_an_endpoint_that_gives_no_answer_hands_the_job_back_to_cloud_run_once(
    runtime, vertex, telegram, taps, failure
):
    cloud_run, _ = taps
    rt = routed(runtime, vertex, "vertex")
    if failure == "503":
        vertex.predict_failures = 1
    elif failure == "connection refused":
        rt = Runtime(replace(rt.settings, vertex_api_endpoint=f"http://127.0.0.1:{free_port()}"))
    else:
        vertex.predict_answer = lambda instance: {"job_id": "u1", "outcome": "generated"}
    job, event = queued_for_endpoint(rt, taps[1])

    dispatch_vertex.handle_message(event, rt)
    dispatch_vertex.handle_message(event, rt)  # a redelivery finds the job handed back: nothing more

    (message,) = cloud_run.drain(expect=2, timeout=2)
    assert GpuSideJob.from_json(message.data).job_id == job.job_id
    after = rt.jobs.get_job(job.job_id)
    assert after.gpu_route == "cloudrun" and after.handed_back and after.state == State.QUEUED
    assert vertex.predicted.count(job.job_id) == (0 if failure == "connection refused" else 1)


def test_a_job_drawn_or_finished_meanwhile_is_not_sent_again(runtime, vertex, telegram, taps):
    rt = routed(runtime, vertex, "vertex")
    job, event = queued_for_endpoint(rt, taps[1])
    rt.jobs.move_job(job.job_id, State.DELIVERED, datetime.now(UTC))

    dispatch_vertex.handle_message(event, rt)

    assert vertex.predicted == []


def test_a_message_that_is_no_job_fails_its_job_with_the_reason(runtime, vertex, telegram, taps):
    rt = routed(runtime, vertex, "vertex")
    job = admit_new_job(rt)

    dispatch_vertex.handle_message(pubsub_event_data(b'{"job_id": "oops"}', job_id=job.job_id), rt)

    after = rt.jobs.get_job(job.job_id)
    assert after.state == State.FAILED and after.reason.startswith("not a generation job")
    assert vertex.predicted == []
