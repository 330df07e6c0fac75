"""report_failure and sweep_stuck_jobs with in-memory edges: every failure is told, with a retry."""

from datetime import timedelta

from imagebot.core.jobs import State
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
