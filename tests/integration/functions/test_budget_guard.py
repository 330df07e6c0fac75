"""budget_guard with the documented budget notifications, through the Pub/Sub emulator, against
the Firestore emulator and the fake Bot API; at 100% it starts the real budget workflow (via the
Workflows Executions client) in workflows-emulator, which scales the Cloud Run stand-in to zero.

The tests use a Firestore project of their own: a paused bot must never leak into other tests.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from google.cloud import pubsub_v1
from imagebot.chat import operators
from imagebot.config import Settings
from imagebot.core.ops import Mode, Ops
from imagebot.core.updates import Command
from imagebot.flows import budget_guard
from imagebot.runtime import Runtime

from tests.infra.budget_workflow import (
    BUDGET_PROJECT,
    OPS_CHAT_ID,
    REGION,
    WORKFLOW,
    BudgetWorkflow,
    budget_workflow,
)
from tests.integration.functions.conftest import function_env
from tests.support.pubsub import TopicTap

TOPIC = "billing-alerts"
OPERATOR_ID = 4242
NOVEMBER, DECEMBER = "2026-11-01T07:00:00Z", "2026-12-01T08:00:00Z"
ATTRIBUTES = {
    "billingAccountId": "01D4EE-079462-DFD6EC",
    "budgetId": "de72f49d-779b-4b16",
    "schemaVersion": "1.0",
}


def notification(cost: float, threshold: float | None, start: str = NOVEMBER) -> bytes:
    """The JSON Cloud Billing publishes (alertThresholdExceeded only once a rule has fired)."""
    body = {
        "budgetDisplayName": "imagebot-test",
        "costAmount": cost,
        "costIntervalStart": start,
        "budgetAmount": 100.0,
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": "EUR",
    }
    if threshold is not None:
        body["alertThresholdExceeded"] = threshold
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def workflow_harness(emulators, telegram_server, tmp_path_factory) -> Iterator[BudgetWorkflow]:
    with budget_workflow(
        emulators, telegram_server.base_url, tmp_path_factory.mktemp("budget-workflow")
    ) as harness:
        yield harness


@pytest.fixture(scope="module")
def budget_runtime(emulators, telegram_server, workflow_harness) -> Runtime:
    env = {
        **function_env(emulators, telegram_server.base_url),
        "GOOGLE_CLOUD_PROJECT": BUDGET_PROJECT,
        "OPS_CHAT_ID": str(OPS_CHAT_ID),
        "REGION": REGION,
        "BUDGET_WORKFLOW": WORKFLOW,
        "WORKFLOWS_API_ENDPOINT": workflow_harness.bridge.endpoint,
        "OPERATOR_IDS": str(OPERATOR_ID),
    }
    return Runtime(Settings.from_env(env))


@pytest.fixture
def guard(budget_runtime, workflow_harness, telegram):
    """Publishes a notification to the emulator's `billing-alerts`, receives it through a
    subscription, and hands the CloudEvent data to the function, as the push would."""
    workflow_harness.reset()
    tap = TopicTap(BUDGET_PROJECT, TOPIC)
    publisher = pubsub_v1.PublisherClient()

    def deliver(body: bytes, attributes: dict[str, str] = ATTRIBUTES) -> None:
        publisher.publish(publisher.topic_path(BUDGET_PROJECT, TOPIC), body, **attributes).result(timeout=10)
        (message,) = tap.drain(expect=1)
        data = {
            "message": {
                "data": base64.b64encode(message.data).decode(),
                "attributes": dict(message.attributes),
                "messageId": message.message_id,
            },
            "subscription": f"projects/{BUDGET_PROJECT}/subscriptions/billing-alerts-budget-guard",
        }
        budget_guard.handle_message(data, budget_runtime)

    return deliver


def ops_texts(telegram) -> list[str]:
    return [
        call.params["text"] for call in telegram.calls("sendMessage") if call.params["chat_id"] == OPS_CHAT_ID
    ]


def test_the_first_threshold_only_tells_the_operators(guard, budget_runtime, workflow_harness, telegram):
    guard(notification(50.2, 0.5))

    ops = budget_runtime.config.get_ops()
    assert (ops.mode, ops.budget_threshold, ops.budget_period) == (Mode.NORMAL, 0.5, NOVEMBER)
    (text,) = ops_texts(telegram)
    assert "50% threshold reached" in text and "50.20 of 100.00 EUR" in text
    assert workflow_harness.bridge.executions == []


def test_the_second_threshold_switches_to_economy(guard, budget_runtime, workflow_harness, telegram):
    guard(notification(50.2, 0.5))
    guard(notification(90.5, 0.9))

    ops = budget_runtime.config.get_ops()
    assert (ops.mode, ops.set_by, ops.budget_threshold) == (Mode.ECONOMY, "budget", 0.9)
    assert "Economy mode is on" in ops_texts(telegram)[-1]
    assert workflow_harness.bridge.executions == []


def test_the_limit_stops_the_gpu_through_the_workflow_and_both_report(
    guard, budget_runtime, workflow_harness, telegram
):
    guard(notification(100.4, 1.0))

    (execution,) = workflow_harness.bridge.executions
    assert execution.parent == workflow_harness.parent and execution.status == 200
    assert execution.argument["action"] == "stop"
    assert workflow_harness.scaling() == {"scalingMode": "MANUAL", "manualInstanceCount": 0}
    ops = budget_runtime.config.get_ops()
    assert (ops.mode, ops.set_by, ops.budget_threshold) == (Mode.PAUSED, "budget", 1.0)
    texts = ops_texts(telegram)
    assert any("Stopping" in text for text in texts)
    assert any(text.startswith("✅ Budget guard stop done") for text in texts)


def test_duplicates_and_late_notifications_act_once_and_never_step_back(
    guard, budget_runtime, workflow_harness, telegram
):
    guard(notification(100.4, 1.0))
    guard(notification(100.4, 1.0))  # Pub/Sub redelivers
    guard(notification(90.5, 0.9))  # an older notification arrives late
    guard(notification(55.0, None))  # a periodic status update

    assert len(workflow_harness.bridge.executions) == 1
    assert budget_runtime.config.get_ops().mode == Mode.PAUSED
    assert len(ops_texts(telegram)) == 2  # the function's "Stopping" and the workflow's report


def test_a_new_period_restores_normal_mode_and_resumes_the_gpu(
    guard, budget_runtime, workflow_harness, telegram
):
    guard(notification(100.4, 1.0))
    guard(notification(0.3, None, start=DECEMBER))

    actions = [execution.argument["action"] for execution in workflow_harness.bridge.executions]
    assert actions == ["stop", "resume"]
    assert workflow_harness.scaling() == {"scalingMode": "AUTOMATIC"}
    ops = budget_runtime.config.get_ops()
    assert (ops.mode, ops.budget_period, ops.budget_threshold) == (Mode.NORMAL, DECEMBER, 0.0)
    assert any("New budget period (2026-12-01)" in text for text in ops_texts(telegram))


def test_an_operators_pause_survives_a_new_period(guard, budget_runtime, workflow_harness, telegram):
    budget_runtime.config.set_ops(Ops(Mode.PAUSED, "maintenance", "operator", NOVEMBER))
    guard(notification(0.3, None, start=DECEMBER))

    ops = budget_runtime.config.get_ops()
    assert (ops.mode, ops.set_by, ops.reason) == (Mode.PAUSED, "operator", "maintenance")
    assert workflow_harness.bridge.executions == [] and ops_texts(telegram) == []


def test_an_unreadable_notification_is_dropped_without_a_change(
    guard, budget_runtime, workflow_harness, telegram
):
    guard(b"{not json")
    guard(notification(100.4, 1.0), {**ATTRIBUTES, "schemaVersion": "2.0"})

    assert budget_runtime.config.get_ops() == Ops()
    assert workflow_harness.bridge.executions == [] and ops_texts(telegram) == []


def test_a_resume_after_a_budget_stop_reaches_the_workflow_through_the_guard(
    guard, budget_runtime, workflow_harness, telegram
):
    guard(notification(100.4, 1.0))
    assert budget_runtime.config.get_ops().gpu_stop_verified is True  # the workflow verified it
    tap = TopicTap(BUDGET_PROJECT, TOPIC)

    # validate_prompt runs the command; its account may publish to the guard's topic but may
    # not start the workflow (terraform/permissions.yaml): the guard starts it.
    resume = Command(update_id=1, chat_id=OPERATOR_ID, user_id=OPERATOR_ID, message_id=1, name="resume")
    operators.resume(resume, budget_runtime)
    (request,) = tap.drain(expect=1)
    assert request.attributes["kind"] == "operator-resume"
    assert [e.argument["action"] for e in workflow_harness.bridge.executions] == ["stop"]
    data = {
        "message": {"data": base64.b64encode(request.data).decode(), "attributes": dict(request.attributes)}
    }
    budget_guard.handle_message(data, budget_runtime)

    (stop, resumed) = workflow_harness.bridge.executions
    assert resumed.argument == {"action": "resume", "reason": f"/resume by {OPERATOR_ID}"}
    assert resumed.status == 200 and workflow_harness.scaling() == {"scalingMode": "AUTOMATIC"}
    ops = budget_runtime.config.get_ops()
    assert (ops.mode, ops.set_by, ops.budget_threshold) == (Mode.NORMAL, "operator", 0.0)
    assert ops.gpu_stop_verified is False
    # Re-armed: still over the budget, the next notification stops again. (Handed over directly:
    # the `guard` fixture's own subscription also holds the resume request.)
    again = {
        "message": {"data": base64.b64encode(notification(100.9, 1.0)).decode(), "attributes": ATTRIBUTES}
    }
    budget_guard.handle_message(again, budget_runtime)
    assert [e.argument["action"] for e in workflow_harness.bridge.executions] == ["stop", "resume", "stop"]


def test_a_stop_that_was_not_verified_is_started_again_by_the_next_notification(
    guard, budget_runtime, workflow_harness, telegram
):
    workflow_harness.apis.reads_while_reconciling = 1000  # Cloud Run never confirms: the run fails
    guard(notification(100.4, 1.0))
    assert budget_runtime.config.get_ops().gpu_stop_verified is False

    workflow_harness.apis.reads_while_reconciling = 0
    guard(notification(100.4, 1.0))  # the same notification, redelivered or repeated

    assert [e.argument["action"] for e in workflow_harness.bridge.executions] == ["stop", "stop"]
    assert budget_runtime.config.get_ops().gpu_stop_verified is True
    guard(notification(100.6, 1.0))
    assert len(workflow_harness.bridge.executions) == 2  # verified: nothing more to do
