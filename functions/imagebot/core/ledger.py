"""The ledger's moves: what each step of a payment or a paid job does to the payment and the
user's credits. Pure; edges/store.PaymentStore applies them in transactions, the in-memory
fake (tests/support/fakes.py) applies the same functions, so the two cannot drift apart.

Each function returns the documents as they read after the step, or None when the step has
nothing to do (done before, or not allowed from where the payment or job is): that is what makes
every step idempotent under Pub/Sub's redeliveries and the sweep's second tries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from imagebot.core import texts
from imagebot.core.jobs import Job, State
from imagebot.core.payments import Credits, Payment, PaymentState

SHORT_ID_LENGTH = 12  # hex characters: a refund button's callback data is at most 64 bytes
# Where a paid job ends without its picture (credits_given_back says which of these give back).
ENDED_WITHOUT_A_PICTURE = (State.FAILED, State.REJECTED, State.CANCELLED)


def short_id(charge_id: str) -> str:
    """A payment's id short enough for a button (payments/<charge>.short_id, queried by user)."""
    return hashlib.sha256(charge_id.encode()).hexdigest()[:SHORT_ID_LENGTH]


def logged(payment: Payment, step: str, now: datetime, **details: Any) -> Payment:
    """The payment with one more entry in its `log`: the money's audit trail."""
    return replace(payment, log=[*payment.log, {"at": now, "step": step, **details}])


def paid(payment: Payment, credits: Credits) -> tuple[Payment, Credits]:
    """A successful payment recorded: its document (first entry of the log) and the pack's
    credits added to the buyer."""
    return logged(payment, "paid", payment.paid_at, credits=payment.credits), credits.add(payment.credits)


def credits_given_back(job: Job) -> int:
    """The credits a job gives back, whether now or already: those its admission took, if it
    ended without a picture (failed, rejected, or cancelled before drawing started). A job
    cancelled while drawing counts, as its quota does (jobs.REFUNDED_ON_CANCEL). What the user's
    message about its end says, whichever attempt sends it."""
    if job.paid_credits <= 0:
        return 0
    if job.state in (State.FAILED, State.REJECTED):
        return job.paid_credits
    if job.state == State.CANCELLED and State.GENERATING.value not in job.times:
        return job.paid_credits
    return 0


def owed_credits(job: Job) -> int:
    """The credits a job should give back now: credits_given_back, unless it has done so."""
    return 0 if job.credits_returned else credits_given_back(job)


def set_shares(paid: int, cost_each: int, count: int) -> list[int]:
    """How the credits paid for a set (charged once, for all its jobs) fall on its jobs, in
    order: the free pictures cover the first ones, the credits the rest, so each job that
    ends without its picture gives back its own share."""
    free = cost_each * count - paid
    return [cost_each - max(0, min(cost_each, free - cost_each * i)) for i in range(count)]


def still_to_draw(member: Job | None) -> bool:
    """Whether a job of a set counts in the set's charge, made when its first job is admitted:
    one not created yet will be (chat/triptych.start_set creates them one by one), one closed
    already (refused at its creation, failed before admission) never will."""
    return member is None or member.state not in ENDED_WITHOUT_A_PICTURE


def live_members(member_ids: Sequence[str], admitting: str, found: Mapping[str, Job | None]) -> list[bool]:
    """Which of a set's jobs, in the set's order, its first admission charges: the job being
    admitted, and each other one still to be drawn (`found`: the others as read; one missing
    there is not created yet)."""
    return [job_id == admitting or still_to_draw(found.get(job_id)) for job_id in member_ids]


def shares_of_live(paid: int, cost_each: int, live: Sequence[bool]) -> list[int]:
    """set_shares over the jobs still to be drawn, aligned with the set's job order: 0 for a
    job closed before the set was charged (it cost nothing)."""
    shares = iter(set_shares(paid, cost_each, sum(live)))
    return [next(shares) if alive else 0 for alive in live]


def set_share(members: Mapping[str, Any], job_id: str) -> int:
    """A job's share of the credits its set paid (`sets/<set_id>`: `paid_credits`, by the order
    of `jobs`); 0 for a set not admitted, or a job not in it."""
    if members.get("admission") != "admitted":
        return 0
    shares, jobs = list(members.get("paid_credits") or []), list(members.get("jobs") or [])
    at = jobs.index(job_id) if job_id in jobs else len(shares)
    return int(shares[at]) if at < len(shares) else 0


def charged_by_set(job: Job, members: Mapping[str, Any]) -> Job:
    """A job of a set as its set's charge left it: a job never admitted itself (refused at its
    creation, failed before its admission) carries no `paid_credits` of its own, yet its share
    was paid when the set was; with it, owed_credits and credits_given_back hold for it too."""
    if job.paid_credits or job.credits_returned:
        return job
    share = set_share(members, job.job_id)
    return replace(job, paid_credits=share) if share else job


def credits_back_text(language: str, credits: int) -> str:
    """The line added to the message that tells of a paid job's end ("" for a free one)."""
    return texts.render(language, "credits_back", n=credits) if credits else ""


def refund_started(
    payment: Payment, credits: Credits, now: datetime, *, by: str, whole: bool
) -> tuple[Payment, Credits] | None:
    """PAID → REFUNDING, the credits out of the user's `held` first (all the pack added when
    `whole`, else as many as are still held); None for a payment not PAID (a refund under way
    or done: started once, whatever the number of calls)."""
    if payment.state != PaymentState.PAID:
        return None
    removed = payment.credits if whole else max(0, min(payment.credits, credits.held))
    if removed > credits.held:
        return None  # would leave the user in debt: payments.user_refund_refusal checks before
    started = replace(payment, state=PaymentState.REFUNDING, credits_removed=removed, refund_by=by)
    return logged(started, "refund started", now, credits=removed, by=by), credits.remove(removed)


def refund_finished(payment: Payment, now: datetime) -> Payment | None:
    """Telegram returned the Stars: REFUNDING → REFUNDED; None from any other state."""
    if payment.state != PaymentState.REFUNDING:
        return None
    return logged(replace(payment, state=PaymentState.REFUNDED), "refunded", now, stars=payment.stars)


def refund_aborted(
    payment: Payment, credits: Credits, now: datetime, error: str
) -> tuple[Payment, Credits] | None:
    """Telegram refused the refund for good: REFUNDING → PAID and the removed credits back."""
    if payment.state != PaymentState.REFUNDING:
        return None
    back = payment.credits_removed
    aborted = replace(payment, state=PaymentState.PAID, credits_removed=0, refund_by=None)
    return logged(aborted, "refund aborted", now, credits=back, error=error[:500]), credits.restore(back)
