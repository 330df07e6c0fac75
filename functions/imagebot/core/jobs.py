"""The job state machine: which moves are allowed, and what each move writes. Pure.

    received → awaiting_style → validated → queued → generating → generated → delivered
    any non-final state → rejected | failed

Every move stamps `times.<state>`, which gives the latency breakdown and the audit trail.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class State(StrEnum):
    RECEIVED = "received"
    AWAITING_STYLE = "awaiting_style"
    VALIDATED = "validated"
    QUEUED = "queued"
    GENERATING = "generating"
    GENERATED = "generated"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    FAILED = "failed"


PIPELINE = (
    State.RECEIVED,
    State.AWAITING_STYLE,
    State.VALIDATED,
    State.QUEUED,
    State.GENERATING,
    State.GENERATED,
    State.DELIVERED,
)
FINAL = frozenset({State.DELIVERED, State.REJECTED, State.FAILED})


def can_move(current: State, target: State) -> bool:
    """Forward along the pipeline only (stages may be skipped); a final state never moves."""
    if current in FINAL:
        return False
    if target in (State.REJECTED, State.FAILED):
        return True
    return PIPELINE.index(target) > PIPELINE.index(current)


def move(current: State, target: State, now: datetime, **fields: Any) -> dict[str, Any]:
    """The Firestore field updates for a move; raises if the move is not allowed."""
    if not can_move(current, target):
        raise ValueError(f"job cannot move from {current} to {target}")
    return {"state": target.value, f"times.{target.value}": now, **fields}


class DeliveryPending(RuntimeError):
    """The photo may not be sent now: another attempt holds a live claim on the job, or its
    retry time (`delivery_retry_at`) has not come. Raised so the event is delivered again."""

    def __init__(self, job_id: str, reason: str, until: datetime) -> None:
        super().__init__(f"{job_id}: {reason} until {until.isoformat()}")
        self.until = until


def delivery_retry_delay(
    attempts: int, retry_after: float | None, *, initial: float, cap: float
) -> timedelta:
    """How long to wait before the next try of a photo that could not be sent: what Telegram
    said (`retry_after`, never less), or a doubling backoff from `initial` up to `cap` after
    the `attempts` tries that failed before this one."""
    if retry_after is not None and retry_after > 0:
        return timedelta(seconds=retry_after)
    return timedelta(seconds=min(cap, initial * 2 ** min(attempts, 32)))


def claimable(
    job: dict[str, Any] | None,
    job_id: str,
    claimant: str,
    now: datetime,
    lease: timedelta,
    *,
    due_only: bool = True,
) -> bool:
    """Whether `claimant` may take the job's delivery now (JobStore.claim_delivery, in its
    transaction): False when there is nothing to send (no job, or a final one). Raises
    DeliveryPending while another attempt's claim is live, or, with `due_only`, before the
    job's `delivery_retry_at`."""
    if job is None or State(job["state"]) in FINAL:
        return False
    claim = job.get("delivery_claim") or {}
    if claim and claim["by"] != claimant and now - claim["at"] < lease:
        raise DeliveryPending(job_id, "another attempt holds the delivery", claim["at"] + lease)
    retry_at = job.get("delivery_retry_at")
    if due_only and retry_at is not None and now < retry_at:
        raise DeliveryPending(job_id, "the next try is not due", retry_at)
    return True


def job_id_for_update(update_id: int) -> str:
    """One Telegram update makes at most one job, so redeliveries find the same job."""
    return f"u{update_id}"


def seed_for(job_id: str) -> int:
    """A stable seed per job: a retried job draws the same picture."""
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:4], "big")


def seed_for_prompt(prompt: str, negative_prompt: str = "") -> int:
    """A first request's seed comes from its words, so everyone asking for the same picture
    gets the same one, and a popular prompt is drawn once (see cache_key); "Again" draws anew."""
    return int.from_bytes(hashlib.sha256(f"{prompt}\n{negative_prompt}".encode()).digest()[:4], "big")


def cache_key(job: dict[str, Any], mode: str) -> str:
    """What makes two pictures the same: the words drawn (the translation, when there is one),
    the style, the seed, the size, the recipe."""
    parts = (
        job.get("model_prompt") or job["prompt"],
        job.get("negative_prompt", ""),
        job["style"],
        str(job["seed"]),
        job.get("aspect", "square"),
        mode,
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def stage_durations(times: dict[str, datetime]) -> list[tuple[str, float]]:
    """Seconds spent reaching each stamped stage from the one before it, in pipeline order."""
    stamped = [(state.value, times[state.value]) for state in PIPELINE if state.value in times]
    return [
        (stage, (at - previous_at).total_seconds())
        for (_, previous_at), (stage, at) in zip(stamped, stamped[1:], strict=False)
    ]


def applied(job: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """The job document as it reads after `changes` (dotted paths into maps included)."""
    result = {**job, "times": dict(job.get("times") or {})}
    for path, value in changes.items():
        if path.startswith("times."):
            result["times"][path.removeprefix("times.")] = value
        else:
            result[path] = value
    return result
