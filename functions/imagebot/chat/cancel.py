"""✖ Cancel under a status message: the job ends cancelled, and its quota (and the credits it
paid) come back when it had not started drawing. Only its requester reaches here (registry:
requester-only)."""

from __future__ import annotations

import logging

from imagebot.core import ledger, texts
from imagebot.core.jobs import Job, State
from imagebot.core.ops import quota_in_mode
from imagebot.core.updates import Button
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.delivery import DELIVERY_LEASE
from imagebot.steps.status import show_status

log = logging.getLogger(__name__)


def cancel(button: Button, job: Job, rt: Services) -> None:
    """Idempotent: a second press, or the same press delivered again, finds the job cancelled
    (JobStore.cancel_job refunds once, in the move's own transaction) and only shows the
    cancelled status again, which a crash before its first showing may have left unshown."""
    policy = quota_in_mode(rt.quota_policy, rt.config.get_ops().mode)
    now_job, refunded = rt.jobs.cancel_job(job.job_id, policy, rt.now(), DELIVERY_LEASE)
    context = fields(stage="cancel", job_id=job.job_id, update_id=button.update_id)
    if now_job is None or now_job.state != State.CANCELLED:
        # Drawn already, or being sent right now: the photo is the answer.
        log.info("cancel too late", extra={**context, "reason": now_job.state if now_job else "gone"})
        return
    log.info("job cancelled", extra={**context, "reason": "refunded" if refunded else "not charged"})
    show_status(now_job, cancelled_text(now_job), rt)


def cancelled_text(job: Job) -> str:
    """What the status says once cancelled: a job stopped before drawing cost nothing (it was
    refunded, or never charged); one stopped while drawing counts, and its picture never comes."""
    key = "cancelled_drawing" if State.GENERATING.value in job.times else "cancelled"
    return texts.render(job.language, key) + ledger.credits_back_text(
        job.language, ledger.credits_given_back(job)
    )
