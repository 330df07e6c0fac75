"""report_failure, against the emulators and the fake Bot API."""

from __future__ import annotations

import json

from imagebot.core.answer_to import AnswerTo
from imagebot.core.jobs import State
from imagebot.core.updates import Prompt, encode_event
from imagebot.flows import report_failure

from gpu_service.contract import GenerationJob as GpuSideJob
from tests.support.events import pubsub_event_data, unique_ids
from tests.support.jobs import put_job

ids = unique_ids(13_000_000)
DEAD = {
    "CloudPubSubDeadLetterSourceSubscription": "generation-jobs-gpu",
    "CloudPubSubDeadLetterSourceDeliveryCount": "5",
}


def test_a_dead_lettered_generation_job_fails_and_the_user_can_retry(runtime, telegram):
    chat_id, job_id = next(ids), f"u{next(ids)}"
    status_id = runtime.bot.send_message(AnswerTo(chat_id), "⏳ queued")["message_id"]
    job = put_job(runtime, job_id, chat_id, State.GENERATING, status_message_id=status_id)
    body = GpuSideJob(job_id=job_id, chat_id=chat_id, prompt=job.prompt, style="ghibli", seed=job.seed)
    data = pubsub_event_data(json.dumps(vars(body)).encode(), job_id=job_id, **DEAD)
    report_failure.handle_dead_letter(data, runtime)
    report_failure.handle_dead_letter(data, runtime)  # dead letters are delivered at least once too

    failed = runtime.jobs.get_job(job_id)
    assert (
        failed.state == State.FAILED
        and failed.reason == "dead-lettered from generation-jobs-gpu after 5 attempts"
    )
    (edit,) = telegram.calls("editMessageText")
    assert edit.params["message_id"] == status_id
    assert edit.params["text"] == f"Sorry, I couldn't draw “{job.prompt}”. Tap to try again."
    assert edit.param_json("reply_markup")["inline_keyboard"][0][0]["callback_data"] == f"retry:{job_id}"


def test_a_dead_letter_for_a_delivered_job_changes_nothing(runtime, telegram):
    chat_id, job_id = next(ids), f"u{next(ids)}"
    put_job(runtime, job_id, chat_id, State.DELIVERED)
    report_failure.handle_dead_letter(pubsub_event_data(b"{}", job_id=job_id, **DEAD), runtime)
    assert runtime.jobs.get_job(job_id).state == State.DELIVERED
    assert telegram.calls() == []


def test_a_dead_lettered_prompt_becomes_a_failed_job_with_an_apology(runtime, telegram):
    chat_id = next(ids)
    prompt = Prompt(next(ids), chat_id, chat_id, 3, "a cat", "ru")
    report_failure.handle_dead_letter(
        pubsub_event_data(encode_event(prompt), update_id=str(prompt.update_id)), runtime
    )
    job = runtime.jobs.get_job(f"u{prompt.update_id}")
    assert job.state == State.FAILED
    assert telegram.calls("sendMessage")[-1].params["text"].startswith("Извините, что-то пошло не так")
