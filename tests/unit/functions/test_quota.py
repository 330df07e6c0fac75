from datetime import UTC, datetime

from imagebot.quota import QuotaPolicy, admit

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
