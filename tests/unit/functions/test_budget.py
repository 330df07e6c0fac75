"""The billing guard's decisions, from the documented budget notification JSON."""

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from imagebot.core.budget import (
    BadNotification,
    GuardPolicy,
    Workflow,
    decide,
    effective_threshold,
    parse_notification,
)
from imagebot.core.ops import Mode, Ops

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
NOVEMBER, DECEMBER, OCTOBER = "2026-11-01T07:00:00Z", "2026-12-01T08:00:00Z", "2026-10-01T07:00:00Z"
ATTRIBUTES = {"billingAccountId": "01D4EE-079462-DFD6EC", "budgetId": "de72f49d-779b", "schemaVersion": "1.0"}
POLICY = GuardPolicy()
# Stopped at 100% of a 100.00 budget, and the workflow verified the GPU at zero.
STOPPED = Ops(
    Mode.PAUSED,
    "budget 100%",
    "budget",
    NOVEMBER,
    NOW,
    budget_threshold=1.0,
    budget_amount=100.0,
    gpu_stop_verified=True,
)


def body(cost: float, threshold: float | None = None, start: str = NOVEMBER, amount: float = 100.0) -> bytes:
    """A notification as Cloud Billing documents it (alertThresholdExceeded only when a rule fired)."""
    doc = {
        "budgetDisplayName": "imagebot-prod",
        "costAmount": cost,
        "costIntervalStart": start,
        "budgetAmount": amount,
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": "EUR",
    }
    if threshold is not None:
        doc["alertThresholdExceeded"] = threshold
    return json.dumps(doc).encode()


def note(cost: float, threshold: float | None = None, start: str = NOVEMBER, amount: float = 100.0):
    return parse_notification(body(cost, threshold, start, amount), ATTRIBUTES)


def test_the_documented_payload_is_read_field_by_field():
    n = note(50.01, 0.5)
    assert (n.budget_name, n.cost, n.budget, n.currency) == ("imagebot-prod", 50.01, 100.0, "EUR")
    assert n.threshold_exceeded == 0.5 and n.period == NOVEMBER
    assert (n.billing_account_id, n.budget_id) == ("01D4EE-079462-DFD6EC", "de72f49d-779b")
    assert n.period_start == datetime(2026, 11, 1, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    "payload, attributes",
    [
        (b"not json", ATTRIBUTES),
        (b"[]", ATTRIBUTES),
        (json.dumps({"costAmount": 1, "budgetAmount": 2}).encode(), ATTRIBUTES),  # no period
        (
            json.dumps({"costAmount": "x", "budgetAmount": 2, "costIntervalStart": NOVEMBER}).encode(),
            ATTRIBUTES,
        ),
        (body(1.0), {**ATTRIBUTES, "schemaVersion": "2.0"}),
    ],
)
def test_anything_else_is_refused_clearly(payload, attributes):
    with pytest.raises(BadNotification):
        parse_notification(payload, attributes)


def test_the_spend_itself_counts_when_no_rule_fired():
    assert effective_threshold(note(30.0), POLICY) == 0.0  # the periodic status notification
    assert effective_threshold(note(55.0, 0.5), POLICY) == 0.5
    assert effective_threshold(note(92.0), POLICY) == 0.9  # the budget has no 90% rule
    assert effective_threshold(note(130.0, 1.2), POLICY) == 1.2
    assert effective_threshold(note(5.0, start=NOVEMBER, amount=0.0), POLICY) == 0.0


def test_first_threshold_tells_the_operators_and_changes_nothing():
    decision = decide(Ops(), note(50.5, 0.5), POLICY, NOW)
    assert decision.workflow is None
    assert decision.ops.mode == Mode.NORMAL and decision.ops.budget_threshold == 0.5
    assert decision.ops.budget_period == NOVEMBER
    assert "50% threshold" in decision.message and "50.50 of 100.00 EUR" in decision.message


def test_second_threshold_switches_to_economy_and_third_stops_the_gpu():
    economy = decide(Ops(budget_period=NOVEMBER, budget_threshold=0.5), note(91.0, 0.9), POLICY, NOW)
    assert economy.ops.mode == Mode.ECONOMY and economy.ops.set_by == "budget" and economy.workflow is None
    assert "Economy mode is on" in economy.message

    stop = decide(economy.ops, note(100.2, 1.0), POLICY, NOW)
    assert stop.workflow == Workflow.STOP
    assert stop.ops.mode == Mode.PAUSED and stop.ops.set_by == "budget" and stop.ops.budget_threshold == 1.0
    assert "Stopping" in stop.message


def test_duplicates_and_late_lower_thresholds_do_nothing_once_the_stop_is_verified():
    stopped = STOPPED
    for late in (note(100.2, 1.0), note(91.0, 0.9), note(55.0, 0.5), note(60.0)):
        decision = decide(stopped, late, POLICY, NOW)
        assert not decision.acts, decision


def test_the_stop_is_started_again_on_every_notification_until_it_is_verified():
    stop = decide(Ops(budget_period=NOVEMBER, budget_amount=100.0), note(101.0, 1.0), POLICY, NOW)
    assert stop.workflow == Workflow.STOP and stop.ops.gpu_stop_verified is False
    # The workflow failed (nothing verified): every later notification at the limit stops again,
    # without a second message to the operators; below the limit, nothing.
    for again in (note(101.0, 1.0), note(102.5), note(100.0, 1.0)):
        decision = decide(stop.ops, again, POLICY, NOW)
        assert decision.workflow == Workflow.STOP and decision.message is None, again
        assert "not verified" in decision.why
    assert decide(stop.ops, note(95.0, 0.9), POLICY, NOW).workflow is None
    verified = replace(stop.ops, gpu_stop_verified=True)  # what the workflow writes once verified
    assert not decide(verified, note(103.0, 1.0), POLICY, NOW).acts


def test_a_new_budget_amount_re_arms_the_thresholds():
    stopped = STOPPED
    raised = decide(stopped, note(101.0, 0.5, amount=200.0), POLICY, NOW)
    assert raised.ops.budget_amount == 200.0 and raised.ops.budget_threshold == 0.5
    assert "Budget amount changed (100.00 → 200.00)" in raised.message
    # Against the new amount the stop is decided again when the spend reaches it.
    assert decide(raised.ops, note(201.0, 1.0, amount=200.0), POLICY, NOW).workflow == Workflow.STOP
    # The same amount again is not a change.
    assert not decide(
        replace(raised.ops, gpu_stop_verified=True), note(120.0, 0.5, amount=200.0), POLICY, NOW
    ).acts


def test_a_notification_from_a_past_period_is_ignored():
    november = Ops(Mode.ECONOMY, "budget 90%", "budget", NOVEMBER, NOW, budget_threshold=0.9)
    decision = decide(november, note(120.0, 1.0, start=OCTOBER), POLICY, NOW)
    assert not decision.acts and "past period" in decision.why


def test_a_new_period_restores_what_the_guard_did_and_resumes_the_gpu():
    stopped = Ops(Mode.PAUSED, "budget 100%", "budget", NOVEMBER, NOW, budget_threshold=1.0)
    decision = decide(stopped, note(0.4, start=DECEMBER), POLICY, NOW)
    assert decision.workflow == Workflow.RESUME
    assert decision.ops.mode == Mode.NORMAL and decision.ops.budget_period == DECEMBER
    assert decision.ops.budget_threshold == 0.0
    assert "New budget period (2026-12-01)" in decision.message


def test_a_new_period_leaves_an_operators_pause_alone():
    by_hand = Ops(Mode.PAUSED, "maintenance", "operator", NOVEMBER, NOW, budget_threshold=0.9)
    decision = decide(by_hand, note(1.0, start=DECEMBER), POLICY, NOW)
    assert decision.workflow is None and decision.message is None
    assert decision.ops.mode == Mode.PAUSED and decision.ops.set_by == "operator"
    assert decision.ops.budget_period == DECEMBER  # the period is still tracked


def test_economy_never_downgrades_an_operators_pause_but_the_gpu_still_stops_at_the_limit():
    by_hand = Ops(Mode.PAUSED, "maintenance", "operator", NOVEMBER, NOW, budget_threshold=0.5)
    economy = decide(by_hand, note(95.0, 0.9), POLICY, NOW)
    assert economy.ops.mode == Mode.PAUSED and economy.ops.set_by == "operator"
    stop = decide(economy.ops, note(101.0, 1.0), POLICY, NOW)
    assert stop.workflow == Workflow.STOP and stop.ops.set_by == "operator"


def test_a_new_period_that_starts_over_a_threshold_restores_then_escalates():
    economy = Ops(Mode.ECONOMY, "budget 90%", "budget", NOVEMBER, NOW, budget_threshold=0.9)
    decision = decide(economy, note(51.0, 0.5, start=DECEMBER), POLICY, NOW)
    assert decision.ops.mode == Mode.NORMAL and decision.ops.budget_threshold == 0.5
    assert decision.workflow is None  # economy never stopped the GPU, so nothing to resume
    assert "New budget period" in decision.message and "50% threshold" in decision.message


def test_policy_thresholds_must_be_ordered():
    with pytest.raises(ValueError):
        GuardPolicy(economy_at=1.0, stop_at=0.9)


def test_the_budget_name_is_escaped_for_telegram_html():
    n = parse_notification(body(60.0, 0.5).replace(b"imagebot-prod", b"<b>&co"), ATTRIBUTES)
    assert "&lt;b&gt;&amp;co" in decide(Ops(), n, POLICY, NOW).message
