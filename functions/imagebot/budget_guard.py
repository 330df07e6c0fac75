"""budget_guard: a Cloud Billing budget notification → tell, economise, or stop; restore in a new period.

The decision is pure (budget.py); this module carries it out, in the order that protects the
money first: start the workflow (stop or resume the GPU service), then write the ops document,
then tell the operators. A failure before the write raises, so Pub/Sub redelivers and the whole
decision is made again; the workflow is idempotent, so a second start is harmless. A failure to
tell the operators is logged at ERROR (which the error-rate alert counts) but never holds back
the switch itself: spending must stop even when Telegram is down.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any, Protocol

from imagebot import budget
from imagebot.config import Settings
from imagebot.events import BadEvent, pubsub_data
from imagebot.logs import fields
from imagebot.runtime import Runtime
from imagebot.telegram import TelegramError

log = logging.getLogger(__name__)


class WorkflowStarter(Protocol):
    def start(self, workflow: budget.Workflow, reason: str) -> str:
        """Start the budget workflow; returns the execution's name."""


class ExecutionsStarter:
    """The Workflows Executions API: the budget workflow runs on its own, outside this function,
    so its minutes of polling Cloud Run are not billed to (or timed out by) the function."""

    def __init__(self, settings: Settings) -> None:
        from google.cloud.workflows import executions_v1  # only this function needs it

        self._types = executions_v1
        if settings.workflows_api_endpoint:
            # A local stand-in: an insecure channel and no credentials, as the Pub/Sub and
            # Firestore clients do when their *_EMULATOR_HOST is set.
            import grpc
            from google.cloud.workflows.executions_v1.services.executions.transports import (
                ExecutionsGrpcTransport,
            )

            channel = grpc.insecure_channel(settings.workflows_api_endpoint)
            self._client = executions_v1.ExecutionsClient(transport=ExecutionsGrpcTransport(channel=channel))
        else:
            self._client = executions_v1.ExecutionsClient()
        self._parent = self._client.workflow_path(settings.project, settings.region, settings.budget_workflow)

    def start(self, workflow: budget.Workflow, reason: str) -> str:
        execution = self._types.Execution(argument=json.dumps({"action": workflow.value, "reason": reason}))
        created = self._client.create_execution(parent=self._parent, execution=execution, timeout=30)
        return str(created.name)


@functools.cache
def default_starter(settings: Settings) -> WorkflowStarter:
    return ExecutionsStarter(settings)


def handle_message(data: Any, rt: Runtime, starter: WorkflowStarter | None = None) -> None:
    """Entry from the `billing-alerts` Pub/Sub CloudEvent."""
    try:
        message = data["message"]
        if (message.get("attributes") or {}).get("kind") == budget.RESUME_REQUEST:
            resume_on_request(pubsub_data(data), starter or default_starter(rt.settings))
            return
        notification = budget.parse_notification(pubsub_data(data), message.get("attributes") or {})
    except (BadEvent, budget.BadNotification, KeyError, TypeError) as error:
        log.error(
            "dropping an unreadable budget notification", extra=fields(stage="budget", error=str(error))
        )
        return
    guard(notification, rt, starter or default_starter(rt.settings))


def resume_on_request(body: bytes, starter: WorkflowStarter) -> None:
    """An operator's /resume after a budget stop (operators.py): the GPU service back to scaling."""
    try:
        by = json.loads(body).get("by", "an operator")
    except (ValueError, AttributeError):
        by = "an operator"
    execution = starter.start(budget.Workflow.RESUME, f"/resume by {by}")
    log.warning("budget workflow resume started: %s", execution, extra=fields(stage="budget"))


def guard(notification: budget.BudgetNotification, rt: Runtime, starter: WorkflowStarter) -> budget.Decision:
    settings = rt.settings
    policy = budget.GuardPolicy(economy_at=settings.budget_economy_at, stop_at=settings.budget_stop_at)
    current = rt.store.get_ops()
    decision = budget.decide(current, notification, policy, rt.now())
    context = fields(stage="budget", reason=decision.why)
    if not decision.acts:
        log.info("budget notification: nothing to do", extra=context)
        return decision

    if decision.workflow is not None:
        execution = starter.start(decision.workflow, decision.why)
        log.warning("budget workflow %s started: %s", decision.workflow.value, execution, extra=context)
    if decision.ops is not None:
        rt.store.set_ops(decision.ops)
        log.warning(
            "ops mode now %s (set by %s)", decision.ops.mode.value, decision.ops.set_by, extra=context
        )
    if decision.message is not None:
        tell_operators(decision.message, rt)
    return decision


def tell_operators(text: str, rt: Runtime) -> None:
    chat_id = rt.settings.ops_chat_id
    if chat_id is None:
        log.error("OPS_CHAT_ID is not set: the operators were not told", extra=fields(stage="budget"))
        return
    try:
        rt.bot.send_message(chat_id, text)
    except TelegramError as error:
        log.error("could not tell the operators", extra=fields(stage="budget", error=str(error)))
