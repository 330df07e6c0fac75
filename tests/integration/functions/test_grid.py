"""A grid's ⬆n and 🔀n against the Firestore, Pub/Sub and Storage emulators and the fake Bot API:
⬆ sends the candidate the GPU left in the bucket and nothing goes to the GPU; 🔀 sends the GPU
a grid job that its own side of the contract reads, starting from that candidate."""

from __future__ import annotations

import pytest
from google.cloud import storage
from imagebot.core.jobs import State
from imagebot.core.updates import Button, encode_event
from imagebot.flows import rate_limit, validate_prompt

from gpu_service.contract import GenerationJob as GpuSideJob
from gpu_service.contract import candidate_object_name, output_metadata
from tests.conftest import BUCKET, PROJECT
from tests.integration.functions.conftest import TOPICS
from tests.support.events import pubsub_event_data, unique_ids
from tests.support.images import png
from tests.support.jobs import put_job
from tests.support.pubsub import TopicTap

ids = unique_ids(32_000_000)
COLOURS = ("red", "green", "blue", "gold")


@pytest.fixture
def generation(emulators) -> TopicTap:
    return TopicTap(PROJECT, TOPICS["GENERATION_TOPIC"])


def delivered_grid(runtime):
    """A grid the GPU drew (candidates written through its own contract module) and delivered."""
    chat_id, job_id = next(ids), f"u{next(ids)}"
    job = put_job(
        runtime, job_id, chat_id, State.DELIVERED, seed=500, candidates=4, output_name=f"outputs/{job_id}.png"
    )
    gpu_job = GpuSideJob(
        job_id=job_id, chat_id=chat_id, prompt=job.prompt, style=job.style, seed=500, candidates=4
    )
    bucket = storage.Client(project=PROJECT).bucket(BUCKET)
    for n in range(1, 5):
        blob = bucket.blob(candidate_object_name(job_id, n, "png"))
        blob.metadata = output_metadata(gpu_job, 64, 64, candidate=n)
        blob.upload_from_string(png(colour=COLOURS[n - 1]), content_type="image/png")
    return job


def press(runtime, job, action: str, n: int) -> Button:
    button = Button(next(ids), job.chat_id, job.user_id, 9, "cb", action, (str(n), job.job_id))
    validate_prompt.handle_message(pubsub_event_data(encode_event(button)), runtime)
    return button


def test_upscale_sends_the_candidate_from_the_bucket_and_nothing_to_the_gpu(runtime, telegram, generation):
    grid = delivered_grid(runtime)
    button = press(runtime, grid, "up", 2)
    (photo,) = telegram.calls("sendPhoto")
    assert telegram.file_bytes(photo.result["photo"][-1]["file_id"]) == png(colour="green")
    assert photo.params["caption"].startswith("<b>Ghibli Art</b> · seed 501\n")
    upscaled = runtime.jobs.get_job(f"u{button.update_id}")
    assert upscaled.state == State.DELIVERED and upscaled.output_name == f"candidates/{grid.job_id}/2.png"
    assert generation.quiet(wait=1.5) == []


def test_a_variation_reaches_the_gpu_as_a_grid_from_that_candidate(runtime, telegram, generation):
    grid = delivered_grid(runtime)
    button = press(runtime, grid, "vary", 3)
    job_id = f"u{button.update_id}"
    rate_limit.admit(job_id, runtime, "m-1")
    (message,) = generation.drain(expect=1, timeout=10)
    sent = GpuSideJob.from_json(message.data)  # the GPU's own side reads it
    assert (sent.job_id, sent.candidates, sent.strength) == (job_id, 4, 0.35)
    assert sent.input_image == f"candidates/{grid.job_id}/3.png"
    (status,) = telegram.calls("sendMessage")
    assert status.params["text"].startswith("⏳ Ghibli Art, 4 variations of variant 3:")
    assert runtime.users.get_user(grid.user_id)["quota"]["used_today"] == 2  # a grid's cost, once
