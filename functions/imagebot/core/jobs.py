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
