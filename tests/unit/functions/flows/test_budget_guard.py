"""budget_guard with in-memory edges and a recording workflow starter."""

import json

from imagebot.core import budget
from imagebot.core.ops import Mode
from imagebot.flows import budget_guard

from tests.support.events import pubsub_event_data
from tests.support.fakes import SETTINGS, FakeServices

ATTRIBUTES = {"billingAccountId": "01D4EE", "budgetId": "de72", "schemaVersion": "1.0"}


class Starter:
    def __init__(self) -> None:
        self.started: list[budget.Workflow] = []

    def start(self, workflow: budget.Workflow, reason: str) -> str:
        self.started.append(workflow)
        return "execution-1"


def spent(cost: float, threshold: float) -> dict:
    body = {
        "budgetDisplayName": "imagebot",
        "costAmount": cost,
        "costIntervalStart": "2026-12-01T08:00:00Z",
        "budgetAmount": 100.0,
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": "EUR",
        "alertThresholdExceeded": threshold,
    }
    return pubsub_event_data(json.dumps(body).encode(), **ATTRIBUTES)


def test_the_whole_budget_spent_stops_the_gpu_pauses_the_bot_and_tells_the_operators():
    rt, starter = FakeServices(settings=type(SETTINGS)(**{**vars(SETTINGS), "ops_chat_id": -100})), Starter()
    budget_guard.handle_message(spent(101.0, 1.0), rt, starter)
    assert starter.started == [budget.Workflow.STOP] and rt.config.get_ops().mode == Mode.PAUSED
    assert [call.chat_id for call in rt.bot.calls] == [-100]


def test_an_unreadable_notification_changes_nothing():
    rt, starter = FakeServices(), Starter()
    budget_guard.handle_message(pubsub_event_data(b"{", **ATTRIBUTES), rt, starter)
    assert starter.started == [] and rt.config.get_ops().mode == Mode.NORMAL
