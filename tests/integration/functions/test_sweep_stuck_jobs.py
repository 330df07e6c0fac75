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
