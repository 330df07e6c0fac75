"""rate_limit with in-memory edges: admitted jobs go to the GPU after the status; refusals are told."""

import json

from imagebot.core import quota
from imagebot.core.jobs import State, cache_key
from imagebot.flows import rate_limit

from tests.support.events import pubsub_event_data
from tests.support.fakes import FakeServices
from tests.support.jobs import job_doc


def test_an_admitted_job_is_queued_told_and_sent_to_the_gpu():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.VALIDATED, style="pixel", seed=42)
    rate_limit.handle_message(pubsub_event_data(b"u1", job_id="u1"), rt)
    job = rt.jobs.get_job("u1")
    assert job.state == State.QUEUED and job.gpu_route == "cloudrun" and job.dispatched_message_id
    assert "Pixel Art" in rt.bot.texts()[0]
    [sent] = rt.publisher.on("generation-jobs")
    assert json.loads(sent) | {"prompt": "x"} == {
        "job_id": "u1",
        "chat_id": 7,
        "prompt": "x",
        "style": "pixel",
        "seed": 42,
        "negative_prompt": "",
        "aspect": "square",
        "mode": "normal",
        "version": 2,
        "input_image": "",
        "strength": None,
        "candidates": 1,
    }


def test_a_refused_job_is_rejected_and_the_user_told_why():
    rt = FakeServices()
    rt.jobs.docs["u2"] = job_doc("u2", 7, State.VALIDATED)
    rt.jobs.refusal = quota.Admission(False, quota.QuotaState(1.0, 0.0, "2026-12-01", 3), "rate", 12)
    rate_limit.handle_message(pubsub_event_data(b"u2"), rt)
    assert rt.jobs.get_job("u2").state == State.REJECTED
    assert rt.publisher.published == [] and "12" in rt.bot.texts()[0]


def test_a_picture_drawn_before_comes_from_the_cache_without_the_gpu():
    rt = FakeServices()
    rt.jobs.docs["u3"] = job_doc("u3", 7, State.VALIDATED, seed=5)
    rt.cache.photos[cache_key(rt.jobs.get_job("u3"), "normal")] = "file-abc"
    rate_limit.handle_message(pubsub_event_data(b"u3"), rt)
    assert rt.jobs.get_job("u3").state == State.DELIVERED and rt.publisher.published == []
    assert rt.bot.calls[0].params["photo"] == "file-abc"
