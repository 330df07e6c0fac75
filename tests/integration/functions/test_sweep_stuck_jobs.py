"""sweep_stuck_jobs, against the emulators and the fake Bot API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from imagebot.core.jobs import State
from imagebot.flows import sweep_stuck_jobs

from tests.support.events import unique_ids
from tests.support.jobs import job_doc, put_job

ids = unique_ids(13_500_000)


def test_the_sweep_fails_only_jobs_stuck_past_the_deadline(runtime, telegram):
    long_ago = datetime.now(UTC) - timedelta(seconds=runtime.settings.job_deadline_seconds + 60)
    stuck, fresh = f"u{next(ids)}", f"u{next(ids)}"
    put_job(runtime, stuck, next(ids), State.GENERATING, times={"received": long_ago, "generating": long_ago})
    put_job(runtime, fresh, next(ids), State.GENERATING)
    assert sweep_stuck_jobs.sweep(runtime) >= 1
    assert runtime.jobs.get_job(stuck).state == State.FAILED
    assert runtime.jobs.get_job(stuck).reason == "stuck in generating past the deadline"
    assert runtime.jobs.get_job(fresh).state == State.GENERATING


def test_a_job_without_a_chat_does_not_stop_the_sweep(runtime, telegram):
    """Such a document made the status step raise KeyError, which ended every sweep there."""
    long_ago = datetime.now(UTC) - timedelta(seconds=runtime.settings.job_deadline_seconds + 60)
    chatless, stuck, chat_id = f"u{next(ids)}", f"u{next(ids)}", next(ids)
    doc = job_doc(chatless, next(ids), State.QUEUED, times={"received": long_ago, "queued": long_ago})
    del doc["chat_id"]
    runtime.db.collection("jobs").document(chatless).set(doc)
    put_job(runtime, stuck, chat_id, State.QUEUED, times={"received": long_ago, "queued": long_ago})

    assert sweep_stuck_jobs.sweep(runtime) >= 2
    assert runtime.jobs.get_job(chatless).state == State.FAILED
    assert runtime.jobs.get_job(stuck).state == State.FAILED
    (apology,) = [
        call
        for call in telegram.calls("sendMessage")
        if call.params.get("chat_id") in (chat_id, str(chat_id))
    ]
    assert apology.params["text"].startswith("Sorry")


def test_an_apology_telegram_refused_is_owed_in_firestore_and_the_sweep_sends_it_once(runtime, telegram):
    long_ago = datetime.now(UTC) - timedelta(seconds=runtime.settings.job_deadline_seconds + 60)
    stuck, chat_id = f"u{next(ids)}", next(ids)
    put_job(runtime, stuck, chat_id, State.QUEUED, times={"received": long_ago, "queued": long_ago})
    telegram.inject_fault("sendMessage", count=50, error_code=502)
    sweep_stuck_jobs.sweep(runtime)  # fails the job; its apology is refused, and owed
    telegram.clear_faults()
    owed = runtime.jobs.get_job(stuck)
    assert owed.state == State.FAILED and owed.apology_attempts == 1
    assert owed.apology_retry_at is not None and owed.apology_retry_at > datetime.now(UTC)
    assert stuck not in [job.job_id for job in runtime.jobs.apologies_due(datetime.now(UTC))]

    # Due now (as if its backoff had passed): the real query finds it, and the sweep pays it once.
    runtime.jobs.set_job_fields(stuck, apology_retry_at=datetime.now(UTC) - timedelta(seconds=1))
    assert stuck in [job.job_id for job in runtime.jobs.apologies_due(datetime.now(UTC))]
    sweep_stuck_jobs.sweep(runtime)
    sweep_stuck_jobs.sweep(runtime)
    told = [
        call
        for call in telegram.calls("sendMessage")
        if call.ok and call.params.get("chat_id") in (chat_id, str(chat_id))
    ]
    assert len(told) == 1 and told[0].params["text"].startswith("Sorry")
    assert runtime.jobs.get_job(stuck).apology_retry_at is None
