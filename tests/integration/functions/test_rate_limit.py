"""rate_limit against the Firestore and Pub/Sub emulators and the fake Bot API."""

from __future__ import annotations

import pytest
from imagebot.core.answer_to import AnswerTo
from imagebot.core.jobs import State
from imagebot.edges.telegram import TelegramError
from imagebot.flows import rate_limit

from gpu_service.contract import GenerationJob as GpuSideJob
from tests.conftest import PROJECT
from tests.integration.functions.conftest import TOPICS
from tests.support.events import pubsub_event_data, unique_ids
from tests.support.images import png
from tests.support.jobs import put_job
from tests.support.pubsub import TopicTap

ids = unique_ids(9_000_000)


@pytest.fixture
def generation(emulators) -> TopicTap:
    return TopicTap(PROJECT, TOPICS["GENERATION_TOPIC"])


def test_an_admitted_job_is_queued_shown_and_sent_to_the_gpu_once(runtime, telegram, generation):
    chat_id, job_id = next(ids), f"u{next(ids)}"
    put_job(runtime, job_id, chat_id, State.VALIDATED, style="pixel")
    runtime.cache.record_generation(4.0)
    ahead = runtime.jobs.queue_depth()  # queued jobs other tests left behind
    data = pubsub_event_data(job_id.encode())
    rate_limit.handle_message(data, runtime)
    rate_limit.handle_message(data, runtime)  # Pub/Sub redelivers: no second charge, no second job

    job = runtime.jobs.get_job(job_id)
    assert job.state == State.QUEUED and "queued" in job.times
    user = runtime.users.get_user(chat_id)
    assert user["quota"]["used_today"] == 1
    (status,) = telegram.calls("sendMessage")
    wait = runtime.cache.seconds_per_image(0) * (ahead + 1)
    position = "you're next" if ahead == 0 else f"you're number {ahead + 1} in line"
    assert status.params["text"] == f"⏳ Pixel Art: {position}, about {round(wait)} s." or wait >= 90
    assert job.status_message_id == status.result["message_id"]
    (message,) = generation.drain(expect=2, timeout=2)
    sent = GpuSideJob.from_json(message.data)
    assert (sent.job_id, sent.chat_id, sent.style, sent.seed, sent.prompt) == (
        job_id,
        chat_id,
        "pixel",
        job.seed,
        job.prompt,
    )


def test_the_style_question_becomes_the_status_message(runtime, telegram, generation):
    chat_id, job_id = next(ids), f"u{next(ids)}"
    question_id = runtime.bot.send_message(AnswerTo(chat_id), "Which style?")["message_id"]
    put_job(runtime, job_id, chat_id, State.VALIDATED, status_message_id=question_id)
    rate_limit.handle_message(pubsub_event_data(job_id.encode()), runtime)

    (edit,) = telegram.calls("editMessageText")
    assert edit.params["message_id"] == question_id and edit.params["text"].startswith(
        "⏳ Ghibli Art: you're"
    )
    assert len(generation.drain(expect=1)) == 1


def test_a_burst_beyond_the_quota_is_refused_with_the_wait(runtime, telegram, generation):
    chat_id = next(ids)  # the runtime allows a burst of 2
    jobs = [f"u{next(ids)}" for _ in range(3)]
    for job_id in jobs:
        put_job(runtime, job_id, chat_id, State.VALIDATED)
        rate_limit.handle_message(pubsub_event_data(job_id.encode()), runtime)

    states = [runtime.jobs.get_job(job_id).state for job_id in jobs]
    assert states == [State.QUEUED, State.QUEUED, State.REJECTED]
    refused = runtime.jobs.get_job(jobs[2])
    assert refused.reason == "rate" and 0 < refused.retry_after_seconds <= 20
    texts = [call.params["text"] for call in telegram.calls("sendMessage")]
    assert texts[-1] == f"You're going a bit fast. Try again in {refused.retry_after_seconds} s."
    assert sorted(
        GpuSideJob.from_json(m.data).job_id for m in generation.drain(expect=3, timeout=2)
    ) == sorted(jobs[:2])

    # More prompts within the wait just told: refused, recorded, and not told again.
    more = [f"u{next(ids)}" for _ in range(3)]
    for job_id in more:
        put_job(runtime, job_id, chat_id, State.VALIDATED)
        rate_limit.handle_message(pubsub_event_data(job_id.encode()), runtime)
    again = [runtime.jobs.get_job(job_id) for job_id in more]
    assert [(job.state, job.reason, job.told) for job in again] == [(State.REJECTED, "rate", False)] * 3
    assert refused.told is True and len(telegram.calls("sendMessage")) == len(texts)


def test_a_job_not_in_validated_is_left_alone(runtime, telegram, generation):
    chat_id, job_id = next(ids), f"u{next(ids)}"
    put_job(runtime, job_id, chat_id, State.DELIVERED)
    rate_limit.handle_message(pubsub_event_data(job_id.encode()), runtime)
    rate_limit.handle_message(pubsub_event_data(b"u-no-such-job"), runtime)
    assert runtime.jobs.get_job(job_id).state == State.DELIVERED
    assert telegram.calls("sendMessage") == [] and generation.quiet(0.5) == []


def test_while_paused_a_job_is_refused_politely_and_nothing_is_charged(runtime, telegram, generation):
    from imagebot.core.ops import Mode, Ops

    chat_id, job_id = next(ids), f"u{next(ids)}"
    put_job(runtime, job_id, chat_id, State.VALIDATED)
    runtime.config.set_ops(Ops(Mode.PAUSED, "test", "operator"))
    try:
        rate_limit.handle_message(pubsub_event_data(job_id.encode()), runtime)
    finally:
        runtime.config.set_ops(Ops())
    job = runtime.jobs.get_job(job_id)
    assert (job.state, job.reason) == (State.REJECTED, "paused")
    assert "paused for maintenance" in telegram.calls("sendMessage")[-1].params["text"]
    assert "quota" not in runtime.users.get_user(chat_id)
    assert generation.quiet(0.5) == []


def test_in_economy_mode_jobs_are_drawn_cheaper_and_quotas_tighten(runtime, telegram, generation):
    from imagebot.core.ops import Mode, Ops

    chat_id = next(ids)  # the runtime allows a burst of 2; economy halves it to 1
    jobs = [f"u{next(ids)}" for _ in range(2)]
    runtime.config.set_ops(Ops(Mode.ECONOMY, "test", "budget"))
    try:
        for job_id in jobs:
            put_job(runtime, job_id, chat_id, State.VALIDATED)
            rate_limit.handle_message(pubsub_event_data(job_id.encode()), runtime)
    finally:
        runtime.config.set_ops(Ops())
    assert [runtime.jobs.get_job(j).state for j in jobs] == [State.QUEUED, State.REJECTED]
    (message,) = generation.drain(expect=2, timeout=2)
    assert GpuSideJob.from_json(message.data).mode == "economy"


def test_a_repeat_of_a_drawn_picture_comes_from_the_cache_without_the_gpu(runtime, telegram, generation):
    from imagebot.core.jobs import cache_key, seed_for_prompt

    chat_id, first, repeat = next(ids), f"u{next(ids)}", f"u{next(ids)}"
    prompt = f"a lantern festival {first}"
    job = put_job(runtime, first, chat_id, State.VALIDATED, prompt=prompt, seed=seed_for_prompt(prompt))
    hits_before, misses_before = runtime.cache.cache_counts()
    rate_limit.handle_message(pubsub_event_data(first.encode()), runtime)
    assert runtime.jobs.get_job(first).cache_key == cache_key(job, "normal")
    photo = runtime.bot.send_photo(
        AnswerTo(chat_id), ("p.png", png(16, 16, "orange"), "image/png"), caption="x"
    )
    runtime.cache.remember_photo(
        cache_key(job, "normal"), photo["photo"][-1]["file_id"], first, runtime.now()
    )
    generation.drain(expect=1)

    other_user = next(ids)
    put_job(runtime, repeat, other_user, State.VALIDATED, prompt=prompt, seed=seed_for_prompt(prompt))
    rate_limit.handle_message(pubsub_event_data(repeat.encode()), runtime)
    rate_limit.handle_message(pubsub_event_data(repeat.encode()), runtime)  # redelivered: still one photo

    served = runtime.jobs.get_job(repeat)
    assert (served.state, served.cached) == (State.DELIVERED, True)
    sent = [call for call in telegram.calls("sendPhoto") if str(call.params["chat_id"]) == str(other_user)]
    assert [call.params["photo"] for call in sent] == [photo["photo"][-1]["file_id"]]
    assert generation.quiet(0.5) == []  # the GPU never saw it
    assert "quota" not in runtime.users.get_user(other_user)  # and it cost no quota
    hits, misses = runtime.cache.cache_counts()
    assert (hits - hits_before, misses - misses_before) == (1, 1)


def test_a_chat_rate_limited_for_minutes_still_gets_its_job_drawn(runtime, telegram, generation):
    # Telegram asks for two minutes' quiet (more than the client waits): the status message is
    # skipped, the job is not held back for it.
    chat_id, job_id = next(ids), f"u{next(ids)}"
    put_job(runtime, job_id, chat_id, State.VALIDATED)
    telegram.inject_fault("sendMessage", error_code=429, retry_after=120)

    rate_limit.handle_message(pubsub_event_data(job_id.encode()), runtime)

    job = runtime.jobs.get_job(job_id)
    assert job.state == State.QUEUED and job.status_message_id is None
    assert [GpuSideJob.from_json(m.data).job_id for m in generation.drain(expect=1)] == [job_id]
    assert not [call for call in telegram.calls("sendMessage") if call.ok]


def test_a_refusal_that_failed_to_send_is_told_on_the_redelivery_and_only_once(runtime, telegram, generation):
    chat_id = next(ids)  # the runtime allows a burst of 2
    jobs = [f"u{next(ids)}" for _ in range(3)]
    for job_id in jobs:
        put_job(runtime, job_id, chat_id, State.VALIDATED)
    for job_id in jobs[:2]:
        rate_limit.handle_message(pubsub_event_data(job_id.encode()), runtime)
    telegram.inject_fault("sendMessage", error_code=502)
    refused = pubsub_event_data(jobs[2].encode())

    with pytest.raises(TelegramError):
        rate_limit.handle_message(refused, runtime)  # Pub/Sub will redeliver it
    rate_limit.handle_message(refused, runtime)
    rate_limit.handle_message(refused, runtime)

    told = [
        c
        for c in telegram.calls("sendMessage")
        if c.ok and c.params["text"].startswith("You're going a bit fast")
    ]
    assert len(told) == 1 and runtime.jobs.get_job(jobs[2]).refusal_shown is True
