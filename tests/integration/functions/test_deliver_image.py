"""deliver_image against the Firestore and Storage emulators and the fake Bot API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.cloud import storage
from imagebot.core.answer_to import AnswerTo
from imagebot.core.jobs import DeliveryPending, Job, State
from imagebot.edges.telegram import TelegramError
from imagebot.flows import deliver_image, sweep_stuck_jobs

from gpu_service.contract import GenerationJob as GpuSideJob
from gpu_service.contract import output_metadata, output_object_name
from local.event_bridge import object_resource
from tests.conftest import BUCKET, PROJECT
from tests.support.events import unique_ids
from tests.support.images import png
from tests.support.jobs import put_job

ids = unique_ids(10_000_000)


def upload_output(job: Job) -> dict:
    """What the GPU service writes, through its own contract module; returns the event data."""
    gpu_job = GpuSideJob(
        job_id=job.job_id,
        chat_id=job.chat_id,
        prompt=job.prompt,
        style=job.style,
        seed=job.seed,
    )
    blob = storage.Client(project=PROJECT).bucket(BUCKET).blob(output_object_name(job.job_id, "png"))
    blob.metadata = output_metadata(gpu_job, 64, 64)
    blob.upload_from_string(png(), content_type="image/png")
    blob.reload()
    return object_resource(blob)


@pytest.fixture
def generated_job(runtime, telegram) -> Job:
    chat_id, job_id = next(ids), f"u{next(ids)}"
    status_id = runtime.bot.send_message(AnswerTo(chat_id), "⏳ Queued")["message_id"]
    telegram.reset()
    return put_job(
        runtime,
        job_id,
        chat_id,
        State.GENERATED,
        prompt="<b>a fox</b> & a hound",
        status_message_id=status_id,
    )


def test_the_photo_is_sent_once_with_its_caption_and_the_job_closes(runtime, telegram, generated_job):
    event = upload_output(generated_job)
    deliver_image.handle_event(event, "event-1", runtime)
    deliver_image.handle_event(event, "event-1", runtime)  # Eventarc redelivers the same event
    deliver_image.handle_event(event, "event-2", runtime)  # or a second event for the same object

    (photo,) = telegram.calls("sendPhoto")
    seed = generated_job.seed
    assert (
        photo.params["caption"] == f"<b>Ghibli Art</b> · seed {seed}\n&lt;b&gt;a fox&lt;/b&gt; &amp; a hound"
    )
    buttons = [b["callback_data"] for row in photo.param_json("reply_markup")["inline_keyboard"] for b in row]
    job_id = generated_job.job_id
    assert buttons[:2] == [f"again:{job_id}", f"file:{job_id}"] and f"same:pixel:{job_id}" in buttons
    assert telegram.file_bytes(photo.result["photo"][-1]["file_id"]) == png()
    job = runtime.jobs.get_job(generated_job.job_id)
    assert job.state == State.DELIVERED and job.delivered_message_id == photo.result["message_id"]
    assert job.photo_file_id == photo.result["photo"][-1]["file_id"]
    (deleted,) = telegram.calls("deleteMessage")
    assert deleted.params["message_id"] == generated_job.status_message_id
    history = runtime.users.get_user(generated_job.user_id)["history"]
    assert history[0] == {
        "job_id": job_id,
        "file_id": job.photo_file_id,
        "style": "ghibli",
        "prompt": generated_job.prompt,
    }
    assert job.output_name == f"outputs/{job_id}.png"


def test_a_failed_send_releases_the_claim_and_a_retry_once_due_delivers(runtime, telegram, generated_job):
    job_id = generated_job.job_id
    event = upload_output(generated_job)
    telegram.inject_fault("sendPhoto", error_code=500, count=1)
    with pytest.raises(TelegramError):
        deliver_image.handle_event(event, "event-1", runtime)
    job = runtime.jobs.get_job(job_id)
    assert job.state == State.GENERATED and job.delivery_claim is None
    wait = (job.delivery_retry_at - datetime.now(UTC)).total_seconds()
    assert 0 < wait <= runtime.settings.delivery_retry_initial_seconds  # the first backoff step
    with pytest.raises(DeliveryPending):
        deliver_image.handle_event(event, "event-1", runtime)  # redelivered too soon

    runtime.jobs.set_job_fields(job_id, delivery_retry_at=datetime.now(UTC))
    deliver_image.handle_event(event, "event-1", runtime)
    assert [call.ok for call in telegram.calls("sendPhoto")] == [False, True]
    assert runtime.jobs.get_job(job_id).state == State.DELIVERED


def test_a_user_who_blocked_the_bot_closes_the_job_without_retries(runtime, telegram, generated_job):
    event = upload_output(generated_job)
    telegram.inject_fault("sendPhoto", error_code=403, description="Forbidden: bot was blocked by the user")
    deliver_image.handle_event(event, "event-1", runtime)  # no exception: a retry could never succeed
    deliver_image.handle_event(event, "event-2", runtime)

    job = runtime.jobs.get_job(generated_job.job_id)
    assert (job.state, job.reason) == (State.FAILED, "unreachable")
    assert len(telegram.calls("sendPhoto")) == 1


def test_objects_outside_the_outputs_are_ignored(runtime, telegram):
    blob = storage.Client(project=PROJECT).bucket(BUCKET).blob("models/readme.txt")
    blob.upload_from_string(b"not a photo")
    blob.reload()
    deliver_image.handle_event(object_resource(blob), "event-x", runtime)
    deliver_image.handle_event({"bucket": BUCKET}, "event-y", runtime)  # no name: logged, dropped
    assert telegram.calls("sendPhoto") == []


def test_an_event_that_outruns_the_generated_stamp_keeps_the_drawing_time(runtime, telegram):
    # The GPU uploads, then stamps `generated`; the finalize event can arrive in between.
    chat_id, job_id = next(ids), f"u{next(ids)}"
    job = put_job(runtime, job_id, chat_id, State.GENERATING)
    event = upload_output(job)

    deliver_image.handle_event(event, "event-early", runtime)

    done = runtime.jobs.get_job(job_id)
    assert done.state == State.DELIVERED
    assert done.times["generated"] == datetime.fromisoformat(event["timeCreated"].replace("Z", "+00:00"))
    assert set(done.durations_ms) >= {"generated", "delivered"}


def test_a_long_429_is_not_retried_before_its_retry_after_and_the_sweep_sends_it_then(
    runtime, telegram, generated_job
):
    """retry_after 90 is above what the client waits in the call (30 s): the job records when
    to try again, Eventarc's redeliveries before then send nothing, and once it is due the
    sweep sends the photo, once."""
    job_id = generated_job.job_id
    event = upload_output(generated_job)
    telegram.inject_fault("sendPhoto", error_code=429, retry_after=90)
    before = datetime.now(UTC)
    with pytest.raises(TelegramError) as raised:
        deliver_image.handle_event(event, "event-1", runtime)
    assert raised.value.not_before == 90
    job = runtime.jobs.get_job(job_id)
    assert job.state == State.GENERATED and job.delivery_claim is None
    assert (
        before + timedelta(seconds=90) <= job.delivery_retry_at <= datetime.now(UTC) + timedelta(seconds=90)
    )
    assert job.output_name == f"outputs/{job_id}.png" and job.output_type == "image/png"

    with pytest.raises(DeliveryPending):
        deliver_image.handle_event(event, "event-1", runtime)  # Eventarc, 10 s later
    sweep_stuck_jobs.sweep(runtime)  # the sweep, before the retry time
    assert len(telegram.calls("sendPhoto")) == 1

    # 90 s later, as far as the job knows.
    runtime.jobs.set_job_fields(job_id, delivery_retry_at=datetime.now(UTC) - timedelta(seconds=1))
    sweep_stuck_jobs.sweep(runtime)
    deliver_image.handle_event(event, "event-1", runtime)  # Eventarc's next try finds it done
    assert [call.status for call in telegram.calls("sendPhoto")] == [429, 200]
    done = runtime.jobs.get_job(job_id)
    assert done.state == State.DELIVERED
    assert telegram.file_bytes(done.photo_file_id) == png()


def test_a_crashed_attempts_claim_holds_the_redelivery_back_until_its_lease_ends(
    runtime, telegram, generated_job
):
    job_id = generated_job.job_id
    event = upload_output(generated_job)
    assert runtime.jobs.claim_delivery(job_id, "event-1/crashed", datetime.now(UTC), timedelta(minutes=2))
    with pytest.raises(DeliveryPending):  # raised, not acknowledged: Eventarc tries again
        deliver_image.handle_event(event, "event-1", runtime)
    assert telegram.calls("sendPhoto") == []

    lapsed = datetime.now(UTC) - timedelta(minutes=3)
    runtime.jobs.set_job_fields(job_id, delivery_claim={"by": "event-1/crashed", "at": lapsed})
    deliver_image.handle_event(event, "event-1", runtime)
    assert len(telegram.calls("sendPhoto")) == 1
    assert runtime.jobs.get_job(job_id).state == State.DELIVERED
