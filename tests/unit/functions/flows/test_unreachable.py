"""A 403 (the user blocked the bot) on any Bot API call closes the job at once, as `failed`
with reason "unreachable", and acknowledges the message: no retries, no dead letters. Any
other error still raises, so Pub/Sub retries it."""

from datetime import timedelta

import pytest
from imagebot.core.jobs import State
from imagebot.core.updates import Prompt, encode_event
from imagebot.edges.telegram import TelegramError
from imagebot.flows import rate_limit, report_failure, report_progress, sweep_stuck_jobs, validate_prompt

from tests.support.events import pubsub_event_data
from tests.support.fakes import FakeServices
from tests.support.jobs import job_doc

STARTED = b'{"version": 1, "job_id": "u1", "state": "generating"}'


def blocked(method: str) -> TelegramError:
    return TelegramError(method, 403, "Forbidden: bot was blocked by the user")


def closed(rt: FakeServices, job_id: str = "u1") -> tuple[str, str | None]:
    job = rt.jobs.get_job(job_id)
    return job.state, job.reason


def test_rate_limit_closes_the_job_when_the_queue_status_meets_a_403_and_sends_nothing_on():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.VALIDATED)
    rt.bot.fail_next("sendMessage", blocked("sendMessage"))
    rate_limit.handle_message(pubsub_event_data(b"u1", job_id="u1"), rt)  # acknowledged
    assert closed(rt) == (State.FAILED, "unreachable")
    assert rt.publisher.on("generation-jobs") == []  # the GPU draws nothing for no one


@pytest.mark.parametrize("method", ["editMessageText", "sendChatAction"])
def test_report_progress_closes_the_job_on_a_403_from_either_call(method):
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATING, status_message_id=55)
    rt.bot.fail_next(method, blocked(method))
    report_progress.handle_message(pubsub_event_data(STARTED), rt)
    assert closed(rt) == (State.FAILED, "unreachable")


def test_validate_prompt_closes_the_prompts_job_when_the_style_question_meets_a_403():
    rt = FakeServices()
    rt.bot.fail_next("sendMessage", blocked("sendMessage"))
    prompt = Prompt(update_id=777, chat_id=7, user_id=7, message_id=3, text="a fox in the snow")
    validate_prompt.handle_message(pubsub_event_data(encode_event(prompt)), rt)
    assert closed(rt, "u777") == (State.FAILED, "unreachable")


def test_a_chat_that_is_gone_counts_as_unreachable_too():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATING, status_message_id=55)
    rt.bot.fail_next("editMessageText", TelegramError("editMessageText", 400, "Bad Request: chat not found"))
    report_progress.handle_message(pubsub_event_data(STARTED), rt)
    assert closed(rt) == (State.FAILED, "unreachable")


def test_an_apology_that_meets_a_403_is_not_retried():
    rt = FakeServices()
    dead = {"CloudPubSubDeadLetterSourceSubscription": "gpu", "CloudPubSubDeadLetterSourceDeliveryCount": "5"}
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.QUEUED, status_message_id=55)
    rt.jobs.docs["u2"] = job_doc("u2", 8, State.QUEUED, now=rt.clock - timedelta(hours=2))
    rt.bot.fail_next("editMessageText", blocked("editMessageText"))
    rt.bot.fail_next("sendMessage", blocked("sendMessage"))
    report_failure.handle_dead_letter(pubsub_event_data(b"{}", job_id="u1", **dead), rt)
    assert sweep_stuck_jobs.sweep(rt) == 1
    assert closed(rt, "u1")[0] == closed(rt, "u2")[0] == State.FAILED
    assert len(rt.bot.refused) == 2 and rt.bot.calls == []


def test_other_errors_still_raise_for_a_retry():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATING, status_message_id=55)
    rt.bot.fail_next("editMessageText", TelegramError("editMessageText", 502, "Bad Gateway"))
    with pytest.raises(TelegramError):
        report_progress.handle_message(pubsub_event_data(STARTED), rt)
    assert closed(rt) == (State.GENERATING, None)
