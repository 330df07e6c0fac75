"""Per-user admission: a token bucket for bursts and a daily quota. Pure maths, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from imagebot.core.payments import split_cost
from imagebot.core.vocabulary import STYLES


@dataclass(frozen=True)
class QuotaPolicy:
    burst: int  # jobs a user may start back to back
    refill_seconds: float  # one more job every this many seconds
    daily_limit: int  # jobs per UTC day


@dataclass(frozen=True)
class QuotaState:
    tokens: float
    updated_at: float  # epoch seconds
    day: str  # UTC date of used_today, ISO format
    used_today: int

    @classmethod
    def fresh(cls, policy: QuotaPolicy, now: float) -> QuotaState:
        return cls(tokens=float(policy.burst), updated_at=now, day=_day(now), used_today=0)


@dataclass(frozen=True)
class Admission:
    admitted: bool
    state: QuotaState
    reason: str | None = None  # "rate" | "daily" when refused
    retry_after_seconds: int = 0
    tell: bool = True  # a refusal the user is told of (refusal_notice)
    paid_credits: int = 0  # of the cost, what the user's credits pay (the free pictures ran out)


# A user refused again while their last refusal notice still holds is not told again: a burst
# of fifty prompts gets one "too fast", not fifty messages paced at one a second.
NOTICE_WINDOW_SECONDS = 60


def refusal_notice(admission: Admission, quiet_until: float, now: float) -> tuple[Admission, float]:
    """Whether this refusal is told, and until when the next ones are not: as long as the
    notice says to wait, at most NOTICE_WINDOW_SECONDS (a daily limit's hours of silence would
    look like a broken bot)."""
    if admission.admitted or now < quiet_until:
        return replace(admission, tell=admission.admitted), quiet_until
    return admission, now + min(admission.retry_after_seconds, NOTICE_WINDOW_SECONDS)


def _day(now: float) -> str:
    return datetime.fromtimestamp(now, UTC).date().isoformat()


# What a job costs, in pictures of the daily quota. A 2x2 grid is four candidates drawn in one
# batch: docs/BENCHMARKS.md ("A grid against four single jobs") puts it at about 0.33-0.37x the
# time of four single jobs on a GPU (the L4 figures for lcm-4, 3.36 images/s at batch 1 and 9.33
# at batch 4, say 0.36x), so about 1.4 pictures' GPU time; it costs 2 (rounded up: the collage
# and the candidates' encoding and storage come on top).
GRID_COST = 2
PICTURE_COST = 1
# All three styles at once are three pictures in three batches (each style its own plan and
# LoRAs, so nothing is shared): charged as three, once, by the set's first job admitted.
SET_COST = PICTURE_COST * len(STYLES)


def job_cost(candidates: int) -> int:
    """The pictures a job of `candidates` candidates is charged (1 or a grid)."""
    return PICTURE_COST if candidates <= 1 else GRID_COST


def admit(
    state: QuotaState | None, policy: QuotaPolicy, now: float, cost: int = PICTURE_COST, held: int = 0
) -> Admission:
    """Spend one token and `cost` pictures if both are there, all at once or nothing;
    otherwise say when to come back. The pictures come from the free daily quota first, then
    from the `held` credits the user bought (payments.split_cost; `paid_credits` says how many),
    so a daily refusal means the two together fall short. The bucket paces requests, paid or
    not (a grid or a set is one press, one token: spending three would leave a user who just
    drew a picture waiting a whole refill before "all three styles" could start); the daily
    quota counts the pictures."""
    state = state or QuotaState.fresh(policy, now)
    elapsed = max(0.0, now - state.updated_at)
    tokens = min(float(policy.burst), state.tokens + elapsed / policy.refill_seconds)
    used_today = state.used_today if state.day == _day(now) else 0
    # The bucket's clock never goes back. A transaction retried under contention decides with
    # the `now` it started with, which may be older than the last admission's; moving
    # updated_at back to it would count the same seconds of refill twice.
    clock = max(now, state.updated_at)
    refreshed = QuotaState(tokens=tokens, updated_at=clock, day=_day(now), used_today=used_today)

    split = split_cost(cost, max(0, policy.daily_limit - used_today), held)
    if split is None:
        midnight = datetime.fromtimestamp(now, UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        wait = (midnight + timedelta(days=1)).timestamp() - now
        return Admission(False, refreshed, "daily", math.ceil(wait))
    if tokens < 1.0:
        return Admission(False, refreshed, "rate", math.ceil((1.0 - tokens) * policy.refill_seconds))
    from_free, from_credits = split
    spent = QuotaState(
        tokens=tokens - 1.0, updated_at=clock, day=refreshed.day, used_today=used_today + from_free
    )
    return Admission(True, spent, paid_credits=from_credits)


def refund(
    state: QuotaState | None, policy: QuotaPolicy, now: float, cost: int = PICTURE_COST
) -> QuotaState | None:
    """The quota as it was before one admission: a job cancelled before it was drawn gives its
    token back (never past the burst) and, on the day it was charged, the `cost` daily pictures
    its admission spent (a grid's two). None when nothing was ever charged."""
    if state is None:
        return None
    same_day = state.day == _day(now)
    return replace(
        state,
        tokens=min(float(policy.burst), state.tokens + 1.0),
        used_today=max(0, state.used_today - cost) if same_day else state.used_today,
    )
