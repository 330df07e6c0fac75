"""dispatch_vertex with in-memory edges: the endpoint's answer decides what becomes of the job."""

import pytest
from imagebot.core.contract import GenerationJob
from imagebot.core.jobs import State
from imagebot.edges.gpu_endpoint import EndpointUnavailable
from imagebot.flows import dispatch_vertex

from tests.support.events import pubsub_event_data
from tests.support.fakes import SETTINGS, FakeServices
from tests.support.jobs import job_doc

ENDPOINT = "projects/p/locations/europe-west4/endpoints/1"


def routed(answer) -> FakeServices:
    def predict(instance):
        if isinstance(answer, Exception):
            raise answer
        return {"job_id": instance["job_id"], **answer}

    settings = type(SETTINGS)(**{**vars(SETTINGS), "vertex_endpoint": ENDPOINT})
    rt = FakeServices(settings=settings, gpu_endpoint=predict)
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.QUEUED, prompt="a cat", gpu_route="vertex")
    return rt


def send(rt):
    job = GenerationJob(job_id="u1", chat_id=7, prompt="a cat", style="ghibli", seed=1)
    dispatch_vertex.handle_message(pubsub_event_data(job.to_json(), job_id="u1"), rt)


def test_a_drawn_job_needs_nothing_more():
    rt = routed({"outcome": "generated"})
    send(rt)
    assert rt.jobs.get_job("u1").state == State.QUEUED and rt.publisher.published == []


def test_a_refused_job_fails_and_the_user_is_told():
    rt = routed({"error": "blocked prompt", "retryable": False})
    send(rt)
    assert rt.jobs.get_job("u1").state == State.FAILED and rt.bot.calls


def test_no_answer_hands_the_job_back_to_cloud_run_and_rests_the_endpoint():
    rt = routed(EndpointUnavailable("down"))
    send(rt)
    assert rt.jobs.get_job("u1").gpu_route == "cloudrun" and len(rt.publisher.on("generation-jobs")) == 1
    assert rt.config.endpoint_failed_at() == rt.now()


def test_a_retryable_failure_raises_so_pubsub_redelivers():
    rt = routed({"error": "out of memory", "retryable": True})
    with pytest.raises(dispatch_vertex.GenerationFailed):
        send(rt)
