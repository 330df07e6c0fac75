from dataclasses import replace
from datetime import UTC, datetime

from imagebot.core.quota import (
    NOTICE_WINDOW_SECONDS,
    Admission,
    QuotaPolicy,
    QuotaState,
    admit,
    refusal_notice,
)

POLICY = QuotaPolicy(burst=3, refill_seconds=10.0, daily_limit=5)
NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC).timestamp()


def test_burst_is_admitted_then_refused_with_a_wait():
    state = None
    for _ in range(3):
        admission = admit(state, POLICY, NOON)
        assert admission.admitted
        state = admission.state
    refused = admit(state, POLICY, NOON)
    assert not refused.admitted
    assert (refused.reason, refused.retry_after_seconds) == ("rate", 10)


def test_tokens_refill_with_time_but_never_above_burst():
    state = admit(None, POLICY, NOON).state
    later = admit(state, POLICY, NOON + 1000)
    assert later.admitted
    assert later.state.tokens == POLICY.burst - 1


def test_partial_refill_shortens_the_wait():
    state = None
    for _ in range(3):
        state = admit(state, POLICY, NOON).state
    refused = admit(state, POLICY, NOON + 4)
    assert refused.retry_after_seconds == 6


def test_daily_limit_refuses_until_utc_midnight_and_resets_next_day():
    state = None
    for i in range(5):
        admission = admit(state, POLICY, NOON + i * 100)
        assert admission.admitted
        state = admission.state
    refused = admit(state, POLICY, NOON + 600)
    assert (refused.reason, refused.retry_after_seconds) == ("daily", 12 * 3600 - 600)
    next_day = admit(refused.state, POLICY, NOON + 86400)
    assert next_day.admitted and next_day.state.used_today == 1


def test_refusal_does_not_spend():
    state = None
    for _ in range(3):
        state = admit(state, POLICY, NOON).state
    refused = admit(state, POLICY, NOON)
    assert refused.state.used_today == 3
    assert refused.state.tokens == state.tokens


def test_a_burst_of_refusals_is_told_once_per_window():
    refused = Admission(False, QuotaState(0.0, 0.0, "2026-11-22", 3), "rate", retry_after_seconds=20)
    admitted = Admission(True, QuotaState(2.0, 0.0, "2026-11-22", 1))

    first, quiet_until = refusal_notice(refused, 0.0, now=100.0)
    second, still = refusal_notice(refused, quiet_until, now=110.0)
    third, later = refusal_notice(refused, still, now=120.0)

    assert (first.tell, quiet_until) == (True, 120.0)
    assert (second.tell, still) == (False, 120.0)  # inside the wait it was told of
    assert (third.tell, later) == (True, 140.0)
    assert refusal_notice(admitted, 500.0, now=110.0) == (replace(admitted, tell=True), 500.0)


def test_a_daily_refusal_is_repeated_after_a_minute_not_after_hours():
    daily = Admission(False, QuotaState(3.0, 0.0, "2026-11-22", 50), "daily", retry_after_seconds=5 * 3600)

    told, quiet_until = refusal_notice(daily, 0.0, now=1000.0)

    assert told.tell and quiet_until == 1000.0 + NOTICE_WINDOW_SECONDS


def test_a_decision_made_with_an_older_clock_never_refills_the_same_seconds_twice():
    # Three admissions empty the bucket at noon; a retried transaction then decides with the
    # `now` it started with, five seconds older. One second after noon the bucket has refilled
    # one second's worth (0.1 token), not six.
    state = None
    for _ in range(3):
        state = admit(state, POLICY, NOON).state
    stale = admit(state, POLICY, NOON - 5)
    assert not stale.admitted and stale.state.updated_at == NOON

    later = admit(stale.state, POLICY, NOON + 1)
    assert not later.admitted and later.retry_after_seconds == 9
