"""Figures for operators, from job documents and the Stars ledger. Pure."""

from __future__ import annotations

import math
from dataclasses import dataclass

from imagebot.core.jobs import Job, State
from imagebot.core.payments import Credits, Payment, PaymentState


@dataclass(frozen=True)
class DailyStats:
    jobs: int
    delivered: int
    failed: int
    rejected: int
    p50_seconds: float | None
    p95_seconds: float | None
    on_vertex: int = 0  # jobs sent to the Vertex AI endpoint (routing.py), and still there
    handed_back: int = 0  # jobs the endpoint could not answer, drawn on Cloud Run instead
    cancelled: int = 0  # jobs their users cancelled (✖ Cancel)


def percentile(values: list[float], share: float) -> float | None:
    """Nearest-rank percentile: the smallest value at or above `share` of the values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summarise(jobs: list[Job]) -> DailyStats:
    states = [job.state for job in jobs]
    latencies = [
        (job.times["delivered"] - job.times["received"]).total_seconds()
        for job in jobs
        if job.state == State.DELIVERED and {"delivered", "received"} <= set(job.times)
    ]
    return DailyStats(
        jobs=len(jobs),
        delivered=states.count(State.DELIVERED),
        failed=states.count(State.FAILED),
        rejected=states.count(State.REJECTED),
        p50_seconds=percentile(latencies, 0.50),
        p95_seconds=percentile(latencies, 0.95),
        on_vertex=sum(1 for job in jobs if job.gpu_route == "vertex"),
        handed_back=sum(1 for job in jobs if job.handed_back),
        cancelled=states.count(State.CANCELLED),
    )


@dataclass(frozen=True)
class LedgerTotals:
    """The Stars ledger as a whole (Payments.totals): revenue, refunds, credits in circulation."""

    stars_paid: int = 0  # every payment, refunded or not
    payments: int = 0
    stars_refunded: int = 0
    refunds: int = 0
    credits_held: int = 0  # in circulation: bought, not yet spent or refunded
    credits_spent: int = 0


def ledger_totals(payments: list[Payment], credits: list[Credits]) -> LedgerTotals:
    """The totals from the payments and every user's credits (a store may count them with
    aggregation queries instead; the figures must be these)."""
    refunded = [payment for payment in payments if payment.state == PaymentState.REFUNDED]
    return LedgerTotals(
        stars_paid=sum(payment.stars for payment in payments),
        payments=len(payments),
        stars_refunded=sum(payment.stars for payment in refunded),
        refunds=len(refunded),
        credits_held=sum(c.held for c in credits),
        credits_spent=sum(c.spent for c in credits),
    )
