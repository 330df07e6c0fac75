"""sweep_stuck_jobs: Cloud Scheduler's tick; photos Telegram refused earlier are sent, and jobs
stuck past their deadline fail.

A photo that could not be sent (the Bot API down, or a long 429) is recorded on its job with
when to try again (`delivery_retry_at`, steps/delivery.py); each tick sends those that are due,
with the same claim as deliver_image, so never a second photo. The sweep also catches jobs that
stalled without a message to dead-letter (an instance lost mid-generation with its message
acknowledged, say): failed and told as report_failure does, once JOB_DEADLINE_SECONDS has
passed since the job's last move. Last, it sends the apologies Telegram would not take when
their jobs failed (steps/failure.py), after giving back the credits still owed by paid jobs
that ended without a picture, and carries on Stars refunds left half-done
(chat/payments.carry_on_refunds). A job that cannot be swept is logged and the others go on.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from imagebot.chat.payments import carry_on_refunds
from imagebot.core.jobs import DeliveryPending, Job, State
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.delivery import DELIVERY_LEASE, deliver_output, recorded_output
from imagebot.steps.failure import fail, return_owed_credits, send_owed_apologies

log = logging.getLogger(__name__)
STALLED_STATES = (State.QUEUED, State.GENERATING, State.GENERATED)


def sweep(rt: Services) -> int:
    """Send the photos due again, fail every job stuck past its deadline in an admitted state;
    returns how many failed."""
    deadline = rt.now() - timedelta(seconds=rt.settings.job_deadline_seconds)
    outcomes: dict[str, int] = {"failed": 0, "sent": 0, "later": 0, "errors": 0}
    for job in rt.jobs.jobs_in_states(STALLED_STATES):
        try:
            outcome = sweep_job(job, deadline, rt)
        except DeliveryPending as pending:
            log.info("delivery not now", extra=fields(stage="sweep", job_id=job.job_id, reason=str(pending)))
            outcome = "later"
        except Exception as error:  # one bad job must not keep the sweep from the others
            log.exception(
                "job not swept",
                extra=fields(stage="sweep", job_id=job.job_id, error=repr(error)[:500]),
            )
            outcome = "errors"
        if outcome:
            outcomes[outcome] += 1
    outcomes["credits returned"] = return_owed_credits(rt)  # before the apologies, which say so
    outcomes.update(send_owed_apologies(rt))  # after the failures above, which owe theirs now
    outcomes.update(carry_on_refunds(rt))
    log.info(
        "sweep done", extra=fields(stage="sweep", reason=", ".join(f"{n} {k}" for k, n in outcomes.items()))
    )
    return outcomes["failed"]


def sweep_job(job: Job, deadline: datetime, rt: Services) -> str | None:
    """What the sweep did with one job: "failed", "sent", or None (nothing to do yet)."""
    job_id, state = job.job_id, job.state
    stamped = job.times.get(state)
    past_deadline = stamped is not None and stamped < deadline
    if state != State.GENERATED:
        if past_deadline:
            fail(job_id, f"stuck in {state} past the deadline", rt)
            return "failed"
        return None
    if past_deadline:
        # The apology takes the delivery claim first (whenever the next try was due), so a
        # delivery in flight is never met by an apology: that job waits for the next tick.
        claimant = f"sweep/{uuid.uuid4().hex}"
        if rt.jobs.claim_delivery(job_id, claimant, rt.now(), DELIVERY_LEASE, due_only=False) is None:
            return None
        fail(job_id, "stuck in generated past the deadline", rt)
        return "failed"
    retry_at = job.delivery_retry_at
    output = recorded_output(job, rt.settings.images_bucket)
    if retry_at is None or output is None or retry_at > rt.now():
        return None
    sent = deliver_output(
        job_id, output, f"sweep/{uuid.uuid4().hex}", rt, context=fields(stage="sweep", job_id=job_id)
    )
    return "sent" if sent else None
