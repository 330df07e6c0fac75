"""All three styles against the Firestore and Storage emulators and the fake Bot API: a set is
charged once, and sent once as one album even when its three events arrive at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from google.cloud import storage
from imagebot.core import quota
from imagebot.core.jobs import DeliveryPending, Job, State
from imagebot.core.vocabulary import STYLES
from imagebot.flows import deliver_image

from gpu_service.contract import GenerationJob as GpuSideJob
from gpu_service.contract import output_metadata, output_object_name
from local.event_bridge import object_resource
from tests.conftest import BUCKET, PROJECT
from tests.support.events import unique_ids
from tests.support.images import png
from tests.support.jobs import put_job

ids = unique_ids(31_000_000)
POLICY = quota.QuotaPolicy(burst=3, refill_seconds=20.0, daily_limit=50)


def put_set(runtime, state: State) -> list[Job]:
    chat_id, set_id = next(ids), f"u{next(ids)}"
    job_ids = [f"{set_id}-{style}" for style in STYLES]
    runtime.jobs.create_set(set_id, job_ids, datetime.now(UTC))
    seed = 1234
    return [
        put_job(runtime, job_id, chat_id, state, style=style, set_id=set_id, seed=seed)
        for job_id, style in zip(job_ids, STYLES, strict=True)
    ]


def upload_output(job: Job) -> dict:
    """What the GPU service writes, through its own contract module; returns the event data."""
    gpu_job = GpuSideJob(
        job_id=job.job_id, chat_id=job.chat_id, prompt=job.prompt, style=job.style, seed=job.seed
    )
    blob = storage.Client(project=PROJECT).bucket(BUCKET).blob(output_object_name(job.job_id, "png"))
    blob.metadata = output_metadata(gpu_job, 64, 64)
    blob.upload_from_string(png(colour="navy"), content_type="image/png")
    blob.reload()
    return object_resource(blob)


def test_a_set_is_charged_once_for_its_three_pictures(runtime):
    jobs = put_set(runtime, State.VALIDATED)
    admissions = [runtime.jobs.admit_job(job.job_id, job.user_id, POLICY, datetime.now(UTC)) for job in jobs]
    assert [job.state for job, _ in admissions] == [State.QUEUED] * 3
    assert all(admission is not None and admission.admitted for _, admission in admissions)
    saved = runtime.users.get_user(jobs[0].user_id)["quota"]
    assert saved["used_today"] == quota.SET_COST and saved["tokens"] == 2.0  # one press, one token


def test_a_refused_set_is_refused_whole_and_told_once(runtime):
    jobs = put_set(runtime, State.VALIDATED)
    now = datetime.now(UTC)
    day = now.date().isoformat()
    runtime.users.update_user(
        jobs[0].user_id, quota={"tokens": 3.0, "updated_at": now.timestamp(), "day": day, "used_today": 48}
    )
    admitted = [runtime.jobs.admit_job(job.job_id, job.user_id, POLICY, now)[0] for job in jobs]
    assert [(job.state, job.reason) for job in admitted] == [(State.REJECTED, "daily")] * 3
    assert [job.told for job in admitted] == [True, False, False]  # the first tells, the others follow
    assert runtime.users.get_user(jobs[0].user_id)["quota"]["used_today"] == 48  # nothing charged


def test_three_events_at_once_on_three_instances_send_one_album(runtime, telegram):
    jobs = put_set(runtime, State.GENERATED)
    events = [upload_output(job) for job in jobs]

    def deliver(n: int) -> str:
        try:
            deliver_image.handle_event(events[n], f"event-{n}", runtime)
            return "done"
        except DeliveryPending:  # another instance holds the set: Eventarc delivers this again
            return "pending"

    with ThreadPoolExecutor(max_workers=3) as pool:
        outcomes = list(pool.map(deliver, range(3)))
    assert set(outcomes) <= {"done", "pending"}
    (album,) = telegram.albums(jobs[0].chat_id)
    assert [message["caption"].split(" · ")[0] for message in album] == [
        "Ghibli Art",
        "Realistic",
        "Pixel Art",
    ]
    assert telegram.file_bytes(album[1]["photo"][-1]["file_id"]) == png(colour="navy")
    (buttons,) = [call for call in telegram.calls("sendMessage") if call.ok]
    assert buttons.params["text"].startswith("🎨 <b>All three styles</b> · seed 1234")
    for job, message in zip(jobs, album, strict=True):
        delivered = runtime.jobs.get_job(job.job_id)
        assert delivered.state == State.DELIVERED and delivered.delivered_message_id == message["message_id"]
    for n, event in enumerate(events):  # Eventarc redelivers every one: nothing more is sent
        deliver_image.handle_event(event, f"event-again-{n}", runtime)
    assert len(telegram.albums(jobs[0].chat_id)) == 1
