"""Failing a job: every accepted prompt ends in a photo or an apology, with a retry button.
Shared by report_failure, sweep_stuck_jobs and dispatch_vertex.

The apology is owed from the move to failed on (`apology_retry_at`, written with the move) and
paid once it is out. One Telegram will not take now (a 5xx, a timeout, a 429) is not retried
by raising: the failing message would come back to a job already failed, with nothing left to
say. It waits on the job, and the sweep (sweep_stuck_jobs) sends it when due, with the same
backoff a deferred photo has, under a claim, so it goes out once; past JOB_DEADLINE_SECONDS
after the failure it is given up.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from imagebot.core import keyboards, ledger, texts
from imagebot.core.jobs import DeliveryPending, Job, State, delivery_retry_delay
from imagebot.edges.telegram import TelegramError
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.status import show_status

log = logging.getLogger(__name__)
UNREACHABLE = "unreachable"  # the reason a job closes with when its user cannot be reached
# How long an apology being sent keeps other sweeps off it (a send takes seconds).
APOLOGY_LEASE = timedelta(minutes=2)


def fail(job_id: str, reason: str, rt: Services) -> None:
    # Owed from the move on, and due a lease later: this first try needs no claim, and a sweep
    # meanwhile leaves it alone; should this instance die before it is out, the sweep sends it.
    now = rt.now()
    job = rt.jobs.move_job(job_id, State.FAILED, now, reason=reason, apology_retry_at=now + APOLOGY_LEASE)
    # Its credits back (once, whatever the number of calls): also for a job failed before, by a
    # delivery of this message that crashed between the move and here, and for a job of a set
    # failed before its own admission, whose share the set paid (Payments.return_credits).
    if _may_owe_credits(job):
        rt.payments.return_credits(job_id, now)
    if job is None:
        log.info(
            "failure for a job already finished", extra=fields(stage="failure", job_id=job_id, reason=reason)
        )
        return
    log.error("job failed", extra=fields(stage="failure", job_id=job_id, reason=reason))
    if job.set_id:
        # One of a set: the set's message tells of it (with the others' pictures), not an
        # apology of its own.
        _paid(job, rt)
        deliver_failed_member(job.set_id, job_id, rt)
        return
    apologise(job, rt)


def apologise(job: Job, rt: Services) -> bool:
    """Tell the user their job failed; True once that is done (or there is no one to tell).
    A send that fails for now leaves the apology owed, due again after a backoff."""
    context = fields(stage="failure", job_id=job.job_id)
    if not job.chat_id:
        # A document written by hand or by an older version, say: failed, with no one to tell.
        log.error("failed job has no chat to tell", extra=context)
        return _paid(job, rt)
    # Derived from the job, not from this call's return: whichever attempt sends the apology
    # says so (the credits of a failed job go back in fail(), or the sweep's jobs_owed_credits).
    credits = ledger.credits_back_text(job.language, ledger.credits_given_back(job))
    try:
        if job.input_image:  # a photo's job: tried again from the stored photo
            text = texts.render(job.language, "failed_photo") + credits
            show_status(job, text, rt, reply_markup=keyboards.retry(job.job_id, job.language))
        elif job.prompt:
            text = texts.render(job.language, "failed", prompt=texts.shorten(job.prompt, 200)) + credits
            show_status(job, text, rt, reply_markup=keyboards.retry(job.job_id, job.language))
        else:
            show_status(job, texts.render(job.language, "failed_generic") + credits, rt)
    except TelegramError as error:
        if error.user_unreachable:
            # The job is closed already; the user blocked the bot, so there is no one to tell.
            log.warning("apology not delivered: user unreachable", extra={**context, "error": str(error)})
            return _paid(job, rt)
        if not error.transient:
            raise
        s = rt.settings
        delay = delivery_retry_delay(
            job.apology_attempts,
            error.not_before,
            initial=s.delivery_retry_initial_seconds,
            cap=s.delivery_retry_max_seconds,
        )
        rt.jobs.set_job_fields(
            job.job_id,
            apology_retry_at=rt.now() + delay,
            apology_attempts=job.apology_attempts + 1,
            delivery_claim=None,  # so the sweep may claim it when due
            error=str(error),
        )
        log.warning(
            "apology not sent; owed, tried again later",
            extra={**context, "error": str(error), "reason": f"retry in {delay.total_seconds():.0f}s"},
        )
        return False
    return _paid(job, rt)


def _paid(job: Job, rt: Services) -> bool:
    rt.jobs.set_job_fields(job.job_id, apology_retry_at=None)
    return True


def deliver_failed_member(set_id: str, job_id: str, rt: Services) -> None:
    """A job of a set failed: the set's message tells of it, with the others' pictures, once
    they are drawn (this may be the last one the set waited for)."""
    # Imported here: delivery imports this module (UNREACHABLE), and a set's album is delivery's.
    from imagebot.steps.delivery import deliver_set

    try:
        deliver_set(set_id, f"failure-{job_id}", rt, context=fields(stage="failure", job_id=job_id))
    except DeliveryPending as pending:  # another attempt is sending the set right now
        log.info("set delivery in flight", extra=fields(stage="failure", job_id=job_id, reason=str(pending)))


def close_unreachable(job_id: str | None, error: TelegramError, rt: Services, *, stage: str) -> None:
    """Telegram answered 403 (the user blocked the bot) or the chat is gone: no retry will
    ever reach them, so the job (if any, and not closed already) fails at once, untold."""
    closed = (
        rt.jobs.move_job(job_id, State.FAILED, rt.now(), reason=UNREACHABLE, error=str(error))
        if job_id
        else None
    )
    if job_id and _may_owe_credits(closed):
        rt.payments.return_credits(job_id, rt.now())  # no picture reached them: none is paid for
    log.warning(
        "user unreachable; " + ("job closed" if closed else "nothing retried"),
        extra=fields(stage=stage, job_id=job_id, error=str(error)),
    )


def _may_owe_credits(job: Job | None) -> bool:
    """Whether a job just closed may have credits to give back, so return_credits (a
    transaction) is worth a call: one that paid, one of a set (whose share the set may have
    paid), or one the move did not return (closed before, by a try that crashed after it)."""
    return job is None or bool(job.paid_credits) or bool(job.set_id)


def return_owed_credits(rt: Services) -> int:
    """The sweep's part: credits of jobs that ended without a picture and were not given back
    (an instance lost between the job's move and the return); how many jobs gave theirs back.
    One job's error leaves the others to return theirs (and it to the next tick)."""
    now, returned = rt.now(), 0
    for job in rt.payments.jobs_owed_credits():
        try:
            returned += bool(rt.payments.return_credits(job.job_id, now))
        except Exception as error:
            log.warning(
                "credits not returned yet",
                extra=fields(stage="payment", job_id=job.job_id, error=repr(error)[:300]),
            )
    return returned


def send_owed_apologies(rt: Services) -> dict[str, int]:
    """The sweep's part: each apology due is sent under a claim (one sender, whatever the number
    of sweeps running), or given up past the deadline after the failure; counts by outcome."""
    now = rt.now()
    give_up_before = now - timedelta(seconds=rt.settings.job_deadline_seconds)
    outcomes = {"apologised": 0, "apology later": 0, "apology given up": 0}
    for owed in rt.jobs.apologies_due(now):
        job = rt.jobs.claim_apology(owed.job_id, f"sweep/{uuid.uuid4().hex}", now, APOLOGY_LEASE)
        if job is None:
            continue
        failed_at: datetime | None = job.times.get(State.FAILED)
        if failed_at is not None and failed_at < give_up_before:
            log.error("apology given up past the deadline", extra=fields(stage="sweep", job_id=job.job_id))
            _paid(job, rt)
            outcomes["apology given up"] += 1
        elif apologise(job, rt):
            outcomes["apologised"] += 1
        else:
            outcomes["apology later"] += 1
    return outcomes
