"""deliver_image with in-memory edges: one photo per job, whatever the number of events."""

from datetime import timedelta

import pytest
from imagebot.core.jobs import DeliveryPending, State
from imagebot.edges.telegram import TelegramError
from imagebot.flows import deliver_image, sweep_stuck_jobs

from tests.support.fakes import FakeServices
from tests.support.images import png
from tests.support.jobs import job_doc


def finalized(name: str) -> dict:
    return {"bucket": "images", "name": name, "generation": "1", "contentType": "image/png", "metadata": {}}


def test_a_finished_picture_is_sent_once_and_the_job_closed():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATED, status_message_id=55)
    rt.objects[("images", "outputs/u1.png")] = png()
    deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)
    deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)  # Eventarc redelivers
    job = rt.jobs.get_job("u1")
    assert job.state == State.DELIVERED and job.photo_file_id
    assert rt.bot.methods() == ["sendPhoto", "deleteMessage"]
    assert rt.users.get_user(7)["history"][0]["job_id"] == "u1"


def test_objects_that_are_not_outputs_are_left_alone():
    rt = FakeServices()
    deliver_image.handle_event(finalized("uploads/u1.png"), "event-2", rt)
    deliver_image.handle_event({"name": "no bucket"}, "event-3", rt)
    assert rt.bot.calls == []


# -- a photo Telegram will not take now ----------------------------------------------------------------


def generated(rt: FakeServices, job_id: str = "u1", **fields) -> None:
    rt.jobs.docs[job_id] = job_doc(job_id, 7, State.GENERATED, now=rt.clock, status_message_id=55, **fields)
    rt.objects[("images", f"outputs/{job_id}.png")] = png()


def test_a_long_429_records_its_retry_after_and_releases_the_claim():
    rt = FakeServices()
    generated(rt)
    rt.bot.fail_next("sendPhoto", TelegramError("sendPhoto", 429, "Too Many Requests", 90))
    with pytest.raises(TelegramError):
        deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)
    job = rt.jobs.get_job("u1")
    assert job.state == State.GENERATED and job.delivery_claim is None
    assert job.delivery_retry_at == rt.clock + timedelta(seconds=90)
    assert (job.output_name, job.output_type, job.delivery_attempts) == (
        "outputs/u1.png",
        "image/png",
        1,
    )

    # Eventarc redelivers 10 s later: refused before the retry time, without a call.
    rt.clock += timedelta(seconds=10)
    with pytest.raises(DeliveryPending):
        deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)
    assert [call.method for call in rt.bot.refused + rt.bot.calls] == ["sendPhoto"]

    rt.clock += timedelta(seconds=80)
    deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)
    assert rt.bot.methods() == ["sendPhoto", "deleteMessage"]
    assert rt.jobs.get_job("u1").state == State.DELIVERED


@pytest.mark.parametrize("code", [500, 502, 599])
def test_server_errors_and_timeouts_back_off_doubling_up_to_the_cap(code):
    rt = FakeServices()  # 10 s doubling, capped at 300 s
    generated(rt)
    waits = []
    for _ in range(7):
        rt.bot.fail_next("sendPhoto", TelegramError("sendPhoto", code, "down"))
        with pytest.raises(TelegramError):
            deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)
        retry_at = rt.jobs.get_job("u1").delivery_retry_at
        waits.append((retry_at - rt.clock).total_seconds())
        rt.clock = retry_at
    assert waits == [10, 20, 40, 80, 160, 300, 300]


def test_a_live_claim_of_another_attempt_is_retried_later_not_acknowledged():
    """An attempt crashed mid-send: its claim is live for the lease, and a redelivery meanwhile
    raises (Eventarc tries again); once the lease is over, a redelivery sends the photo."""
    rt = FakeServices()
    generated(rt)
    rt.jobs.claim_delivery("u1", "event-1/crashed", rt.clock, timedelta(minutes=2))
    with pytest.raises(DeliveryPending):
        deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)
    assert rt.bot.calls == []
    rt.clock += timedelta(minutes=2)
    deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)
    assert rt.bot.methods() == ["sendPhoto", "deleteMessage"]


def test_a_user_who_blocked_the_bot_closes_the_job_as_unreachable_at_once():
    rt = FakeServices()
    generated(rt)
    rt.bot.fail_next("sendPhoto", TelegramError("sendPhoto", 403, "Forbidden: bot was blocked by the user"))
    deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)  # no raise: no retries
    job = rt.jobs.get_job("u1")
    assert (job.state, job.reason) == (State.FAILED, "unreachable")
    deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)
    assert rt.bot.calls == [] and len(rt.bot.refused) == 1


# -- the sweep sends what is due, and apologises only past the deadline --------------------------------


def test_the_sweep_sends_a_deferred_photo_once_it_is_due_and_only_once():
    rt = FakeServices()
    generated(rt)
    rt.bot.fail_next("sendPhoto", *[TelegramError("sendPhoto", 500, "down")] * 2)
    with pytest.raises(TelegramError):
        deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)
    sweep_stuck_jobs.sweep(rt)  # not due yet: nothing tried
    assert len(rt.bot.refused) == 1
    rt.clock += timedelta(seconds=10)
    assert sweep_stuck_jobs.sweep(rt) == 0  # due: tried, refused again, deferred 20 s
    assert len(rt.bot.refused) == 2 and rt.jobs.get_job("u1").delivery_attempts == 2
    rt.clock += timedelta(seconds=20)
    sweep_stuck_jobs.sweep(rt)
    deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)  # Eventarc, late
    sweep_stuck_jobs.sweep(rt)
    assert rt.bot.methods() == ["sendPhoto", "deleteMessage"]
    assert rt.jobs.get_job("u1").state == State.DELIVERED


def test_the_sweep_apologises_once_past_the_deadline_and_no_photo_follows():
    rt = FakeServices()
    generated(rt)
    rt.bot.fail_next("sendPhoto", TelegramError("sendPhoto", 500, "down"))
    with pytest.raises(TelegramError):
        deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)
    rt.clock += timedelta(seconds=rt.settings.job_deadline_seconds - 1)
    rt.bot.fail_next("sendPhoto", *[TelegramError("sendPhoto", 500, "down")] * 100)
    sweep_stuck_jobs.sweep(rt)
    assert rt.jobs.get_job("u1").state == State.GENERATED, "apologised before the deadline"
    rt.clock += timedelta(seconds=2)
    assert sweep_stuck_jobs.sweep(rt) == 1
    assert sweep_stuck_jobs.sweep(rt) == 0
    rt.bot.errors.clear()  # Telegram is back: the event's next redelivery sends nothing
    deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)
    assert rt.bot.methods() == ["editMessageText"] and rt.bot.texts()[0].startswith("Sorry")
    assert rt.jobs.get_job("u1").state == State.FAILED


def test_the_sweep_never_apologises_over_a_delivery_in_flight():
    rt = FakeServices()
    generated(rt)
    rt.clock += timedelta(seconds=rt.settings.job_deadline_seconds + 1)
    rt.jobs.claim_delivery("u1", "event-1/sending", rt.clock, timedelta(minutes=2))
    sweep_stuck_jobs.sweep(rt)
    assert rt.jobs.get_job("u1").state == State.GENERATED and rt.bot.calls == []


def test_one_broken_job_does_not_stop_the_sweep_of_the_others():
    """A job document without chat_id (hand-written, or by an older version) used to raise a
    KeyError in the status step on every tick, and the jobs after it were never swept."""
    rt = FakeServices()
    old = rt.clock - timedelta(seconds=rt.settings.job_deadline_seconds + 60)
    broken = job_doc("u1", 7, State.QUEUED, now=old)
    del broken["chat_id"]
    rt.jobs.docs["u1"] = broken
    rt.jobs.docs["u2"] = {"state": State.GENERATING.value, "times": {"generating": old}}  # no job_id
    rt.jobs.docs["u3"] = job_doc("u3", 8, State.GENERATING, now=old)
    rt.jobs.docs["u4"] = job_doc("u4", 9, State.QUEUED, now=old)
    rt.bot.fail_next("sendMessage", RuntimeError("the bot fell over"))  # u3's apology
    # u1 and u2 have no one to tell (u2 is known by its document's id), u4 is told.
    assert sweep_stuck_jobs.sweep(rt) == 3
    assert [rt.jobs.docs[j]["state"] for j in ("u1", "u2", "u3", "u4")] == ["failed"] * 4
    assert [call.chat_id for call in rt.bot.calls] == [9]


def test_a_photo_of_a_prompt_in_a_topic_goes_there_even_when_the_sweep_sends_it_later():
    rt = FakeServices()
    generated(rt, message_thread_id=42)
    rt.bot.fail_next("sendPhoto", TelegramError("sendPhoto", 500, "down"))
    with pytest.raises(TelegramError):
        deliver_image.handle_event(finalized("outputs/u1.png"), "event-1", rt)
    rt.clock += timedelta(seconds=10)
    sweep_stuck_jobs.sweep(rt)
    refused, (sent, _) = rt.bot.refused[0], rt.bot.calls
    assert sent.method == "sendPhoto"
    assert refused.to == sent.to and (sent.to.message_thread_id, sent.to.reply_to) == (42, 1)
    assert sent.params["caption"].startswith("<b>Ghibli Art</b>")
