"""The operating mode of the whole bot, kept in the Firestore document `config/ops`.

Operators (/pause, /resume) and the billing guard write it; admission reads it:
- normal:  everything as configured;
- economy: the GPU draws with fewer steps and smaller images, quotas are tighter;
- paused:  no new job is admitted; users are told politely, and nothing queued is lost.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from imagebot.core.quota import QuotaPolicy


class Mode(StrEnum):
    NORMAL = "normal"
    ECONOMY = "economy"
    PAUSED = "paused"

    @property
    def severity(self) -> int:
        return list(Mode).index(self)


@dataclass(frozen=True)
class Ops:
    mode: Mode = Mode.NORMAL
    reason: str = ""
    set_by: str = ""  # "operator" or "budget"
    budget_period: str = ""  # the billing period the budget guard last acted in
    updated_at: datetime | None = None
    # The highest budget threshold (a fraction: 0.5, 0.9, 1.0) acted on in `budget_period`, so
    # that duplicate and out-of-order billing notifications never act twice or step back.
    budget_threshold: float = 0.0
    budget_amount: float = 0.0  # the budget the threshold was reached against: a new amount re-arms
    # Written by the budget workflow alone: false when a stop or resume starts, true once a stop
    # verified the GPU at zero. Until then every notification at the stop threshold stops again.
    gpu_stop_verified: bool = False

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Ops:
        if not doc:
            return cls()
        return cls(
            mode=Mode(doc.get("mode", Mode.NORMAL)),
            reason=doc.get("reason", ""),
            set_by=doc.get("set_by", ""),
            budget_period=doc.get("budget_period", ""),
            updated_at=doc.get("updated_at"),
            budget_threshold=float(doc.get("budget_threshold", 0.0)),
            budget_amount=float(doc.get("budget_amount", 0.0)),
            gpu_stop_verified=bool(doc.get("gpu_stop_verified", False)),
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "reason": self.reason,
            "set_by": self.set_by,
            "budget_period": self.budget_period,
            "updated_at": self.updated_at,
            "budget_threshold": self.budget_threshold,
            "budget_amount": self.budget_amount,
        }  # gpu_stop_verified is the workflow's to write: never overwritten from here


def quota_in_mode(policy: QuotaPolicy, mode: Mode) -> QuotaPolicy:
    """Economy halves the burst and the daily quota (never below one job)."""
    if mode != Mode.ECONOMY:
        return policy
    return replace(policy, burst=max(1, policy.burst // 2), daily_limit=max(1, policy.daily_limit // 2))


def generation_mode(mode: Mode) -> str:
    """The contract's `mode` field for a job admitted now."""
    return "economy" if mode == Mode.ECONOMY else "normal"
