"""The cancelled state and the quota it gives back: pure."""

from datetime import UTC, datetime, timedelta

import pytest
from imagebot.core import quota
from imagebot.core.jobs import FINAL, DeliveryClaim, Job, State, can_move, cancellable, claimable
from imagebot.core.stats import summarise

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)
POLICY = quota.QuotaPolicy(burst=3, refill_seconds=20, daily_limit=50)


@pytest.mark.parametrize(
    "state", [State.RECEIVED, State.AWAITING_STYLE, State.VALIDATED, State.QUEUED, State.GENERATING]
)
def test_a_job_not_drawn_yet_may_be_cancelled(state):
    assert can_move(state, State.CANCELLED)
    assert cancellable(Job("u1", state), NOW, LEASE)


@pytest.mark.parametrize("state", [State.GENERATED, *FINAL])
def test_a_drawn_or_final_job_may_not(state):
    assert not can_move(state, State.CANCELLED)
    assert not cancellable(Job("u1", state), NOW, LEASE)


def test_cancelled_is_final_and_never_delivered():
    assert State.CANCELLED in FINAL
    assert not any(can_move(State.CANCELLED, target) for target in State)
    assert not claimable(Job("u1", State.CANCELLED), "u1", "event/1", NOW, LEASE)


def test_a_live_delivery_claim_keeps_cancel_off_and_an_expired_one_does_not():
    sending = Job("u1", State.GENERATING, delivery_claim=DeliveryClaim("event/1", NOW - timedelta(seconds=5)))
    assert not cancellable(sending, NOW, LEASE)
    crashed = Job("u1", State.GENERATING, delivery_claim=DeliveryClaim("event/1", NOW - LEASE))
    assert cancellable(crashed, NOW, LEASE)
    assert not cancellable(None, NOW, LEASE)


def test_a_refund_gives_back_one_token_and_todays_picture():
    now = NOW.timestamp()
    charged = quota.admit(None, POLICY, now).state
    back = quota.refund(charged, POLICY, now)
    assert (back.tokens, back.used_today) == (3.0, 0)
    assert back.updated_at == charged.updated_at and back.day == charged.day


def test_a_cancelled_grid_gives_back_what_its_admission_spent():
    now = NOW.timestamp()
    charged = quota.admit(None, POLICY, now, cost=quota.job_cost(4)).state
    back = quota.refund(charged, POLICY, now, cost=quota.job_cost(4))
    assert (back.tokens, back.used_today) == (3.0, 0)


def test_a_refund_never_passes_the_burst_nor_goes_below_zero():
    full = quota.QuotaState(tokens=3.0, updated_at=0, day="2026-12-01", used_today=0)
    assert quota.refund(full, POLICY, NOW.timestamp()) == full
    assert quota.refund(None, POLICY, NOW.timestamp()) is None


def test_a_refund_the_next_day_leaves_the_new_days_count_alone():
    yesterday = quota.QuotaState(tokens=1.0, updated_at=0, day="2026-11-30", used_today=7)
    back = quota.refund(yesterday, POLICY, NOW.timestamp())
    assert (back.tokens, back.used_today, back.day) == (2.0, 7, "2026-11-30")


def test_stats_count_cancelled_jobs():
    jobs = [Job("u1", State.CANCELLED), Job("u2", State.CANCELLED), Job("u3", State.FAILED)]
    day = summarise(jobs)
    assert (day.cancelled, day.failed, day.jobs) == (2, 1, 3)
