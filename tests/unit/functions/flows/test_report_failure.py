"""report_failure and sweep_stuck_jobs with in-memory edges: every failure is told, with a retry."""

from datetime import timedelta

from imagebot.core.jobs import State
from imagebot.edges.telegram import TelegramError
from imagebot.flows import report_failure, sweep_stuck_jobs

from tests.support.events import pubsub_event_data
from tests.support.fakes import FakeServices
from tests.support.jobs import job_doc

DEAD = {"CloudPubSubDeadLetterSourceSubscription": "gpu", "CloudPubSubDeadLetterSourceDeliveryCount": "5"}


def test_a_dead_lettered_job_fails_and_the_user_gets_a_retry_button():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATING)
    report_failure.handle_dead_letter(pubsub_event_data(b"{}", job_id="u1", **DEAD), rt)
    report_failure.handle_dead_letter(pubsub_event_data(b"{}", job_id="u1", **DEAD), rt)
    assert rt.jobs.get_job("u1").reason == "dead-lettered from gpu after 5 attempts"
    [told] = rt.bot.calls
    assert told.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "retry:u1"


def test_the_sweep_fails_jobs_stuck_past_their_deadline_only():
    rt = FakeServices()
    long_ago = rt.now() - timedelta(seconds=rt.settings.job_deadline_seconds + 1)
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATING, now=long_ago)
    rt.jobs.docs["u2"] = job_doc("u2", 7, State.GENERATING, now=rt.now())
    assert sweep_stuck_jobs.sweep(rt) == 1
    assert rt.jobs.get_job("u1").state == State.FAILED and rt.jobs.get_job("u2").state == State.GENERATING


# -- an apology Telegram would not take is owed, and sent by the sweep once -----------------------


def down(rt, times=1, code=500):
    rt.bot.fail_next("sendMessage", *[TelegramError("sendMessage", code, "down")] * times)


def apologies(rt):
    return [call for call in rt.bot.calls if call.params.get("text", "").startswith("Sorry")]


def test_an_apology_telegram_would_not_take_is_sent_by_the_sweep_when_due_and_only_once():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATING)
    down(rt, times=2)
    report_failure.handle_dead_letter(pubsub_event_data(b"{}", job_id="u1", **DEAD), rt)  # acknowledged
    job = rt.jobs.get_job("u1")
    assert job.state == State.FAILED and job.apology_attempts == 1
    assert job.apology_retry_at == rt.clock + timedelta(seconds=rt.settings.delivery_retry_initial_seconds)
    report_failure.handle_dead_letter(pubsub_event_data(b"{}", job_id="u1", **DEAD), rt)  # redelivered
    sweep_stuck_jobs.sweep(rt)  # not due yet
    assert len(rt.bot.refused) == 1 and apologies(rt) == []

    rt.clock += timedelta(seconds=10)
    sweep_stuck_jobs.sweep(rt)  # due, refused again: the backoff doubles
    job = rt.jobs.get_job("u1")
    assert len(rt.bot.refused) == 2 and job.apology_attempts == 2
    assert job.apology_retry_at == rt.clock + timedelta(seconds=20)
    rt.clock += timedelta(seconds=20)
    sweep_stuck_jobs.sweep(rt)  # Telegram is back
    sweep_stuck_jobs.sweep(rt)
    rt.clock += timedelta(minutes=10)
    sweep_stuck_jobs.sweep(rt)
    [told] = apologies(rt)
    assert told.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "retry:u1"
    assert rt.jobs.get_job("u1").apology_retry_at is None


def test_an_apology_waits_out_a_429s_retry_after():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATING)
    rt.bot.fail_next("sendMessage", TelegramError("sendMessage", 429, "Too Many Requests", 90))
    report_failure.handle_dead_letter(pubsub_event_data(b"{}", job_id="u1", **DEAD), rt)
    assert rt.jobs.get_job("u1").apology_retry_at == rt.clock + timedelta(seconds=90)
    rt.clock += timedelta(seconds=89)
    sweep_stuck_jobs.sweep(rt)
    assert apologies(rt) == []
    rt.clock += timedelta(seconds=1)
    sweep_stuck_jobs.sweep(rt)
    assert len(apologies(rt)) == 1


def test_an_apology_in_the_hands_of_another_sweep_is_left_to_it():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATING)
    down(rt)
    report_failure.handle_dead_letter(pubsub_event_data(b"{}", job_id="u1", **DEAD), rt)
    rt.clock += timedelta(seconds=10)
    assert rt.jobs.claim_apology("u1", "sweep/other", rt.clock, timedelta(minutes=2)) is not None
    sweep_stuck_jobs.sweep(rt)
    assert apologies(rt) == []
    rt.clock += timedelta(minutes=3)  # the other sweep died with its claim: the lease runs out
    sweep_stuck_jobs.sweep(rt)
    assert len(apologies(rt)) == 1


def test_an_apology_sent_by_a_first_try_that_died_is_sent_by_the_sweep():
    # The instance died between the move to failed and the send: the apology is owed from the move.
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATING)
    rt.jobs.move_job(
        "u1", State.FAILED, rt.clock, reason="x", apology_retry_at=rt.clock + timedelta(minutes=2)
    )
    sweep_stuck_jobs.sweep(rt)
    assert apologies(rt) == []  # the first try's own time
    rt.clock += timedelta(minutes=2)
    sweep_stuck_jobs.sweep(rt)
    assert len(apologies(rt)) == 1


def test_an_apology_is_given_up_past_the_deadline_and_one_to_a_blocked_user_at_once():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", 7, State.GENERATING)
    rt.jobs.docs["u2"] = job_doc("u2", 8, State.GENERATING)
    down(rt, times=1000)
    report_failure.handle_dead_letter(pubsub_event_data(b"{}", job_id="u1", **DEAD), rt)
    for _ in range(40):
        rt.clock += timedelta(seconds=rt.settings.delivery_retry_max_seconds)
        sweep_stuck_jobs.sweep(rt)
    assert rt.jobs.get_job("u1").apology_retry_at is None and apologies(rt) == []
    tries = len(rt.bot.refused)
    assert tries <= 2 + rt.settings.job_deadline_seconds / rt.settings.delivery_retry_max_seconds

    rt.bot.errors.clear()
    rt.bot.fail_next(
        "sendMessage", TelegramError("sendMessage", 403, "Forbidden: bot was blocked by the user")
    )
    report_failure.handle_dead_letter(pubsub_event_data(b"{}", job_id="u2", **DEAD), rt)
    assert rt.jobs.get_job("u2").apology_retry_at is None
    rt.clock += timedelta(minutes=5)
    sweep_stuck_jobs.sweep(rt)
    assert apologies(rt) == []
