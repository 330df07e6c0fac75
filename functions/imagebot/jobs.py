"""The job state machine: which moves are allowed, and what each move writes. Pure.

    received → awaiting_style → validated → queued → generating → generated → delivered
    any non-final state → rejected | failed

Every move stamps `times.<state>`, which gives the latency breakdown and the audit trail.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
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


def job_id_for_update(update_id: int) -> str:
    """One Telegram update makes at most one job, so redeliveries find the same job."""
    return f"u{update_id}"


def seed_for(job_id: str) -> int:
    """A stable seed per job: a retried job draws the same picture."""
    return int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:4], "big")


def stage_durations(times: dict[str, datetime]) -> list[tuple[str, float]]:
    """Seconds spent reaching each stamped stage from the one before it, in pipeline order."""
    stamped = [(state.value, times[state.value]) for state in PIPELINE if state.value in times]
    return [
        (stage, (at - previous_at).total_seconds())
        for (_, previous_at), (stage, at) in zip(stamped, stamped[1:], strict=False)
    ]
