"""budget_guard: a Cloud Billing budget notification → tell, economise, or stop; restore in a new period.

The decision is pure (budget.py); this module carries it out, in the order that protects the
money first: start the workflow (stop or resume the GPU service), then write the ops document,
then tell the operators. A failure before the write raises, so Pub/Sub redelivers and the whole
decision is made again; the workflow is idempotent, so a second start is harmless. A failure to
tell the operators is logged at ERROR (which the error-rate alert counts) but never holds back
the switch itself: spending must stop even when Telegram is down.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from imagebot.chat.payments import tell_waiting_buyers
from imagebot.core import budget
from imagebot.core.answer_to import AnswerTo
from imagebot.core.ops import Mode
from imagebot.edges.telegram import TelegramError
from imagebot.edges.workflows import WorkflowStarter, default_starter
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.decoding import decoded

log = logging.getLogger(__name__)


def handle_message(data: Any, rt: Services, starter: WorkflowStarter | None = None) -> None:
    """Entry from the `billing-alerts` Pub/Sub CloudEvent: a budget notification, or an
    operator's /resume request (only this function may start the budget workflow)."""
    opened = decoded(
        data,
        lambda message: (
            None
            if message.attributes.get("kind") == budget.RESUME_REQUEST
            else budget.parse_notification(message.data, message.attributes)
        ),
        stage="budget",
        what="budget notification",
    )
    if opened is None:
        return
    notification, message = opened
    if notification is None:
        resume_on_request(message.data, starter or default_starter(rt.settings))
    else:
        guard(notification, rt, starter or default_starter(rt.settings))


def resume_on_request(body: bytes, starter: WorkflowStarter) -> None:
    """An operator's /resume after a budget stop (chat/operators.py): the GPU service back to scaling."""
    try:
        by = json.loads(body).get("by", "an operator")
    except (ValueError, AttributeError):
        by = "an operator"
    execution = starter.start(budget.Workflow.RESUME, f"/resume by {by}")
    log.warning("budget workflow resume started: %s", execution, extra=fields(stage="budget"))


def guard(notification: budget.BudgetNotification, rt: Services, starter: WorkflowStarter) -> budget.Decision:
    settings = rt.settings
    policy = budget.GuardPolicy(economy_at=settings.budget_economy_at, stop_at=settings.budget_stop_at)
    current = rt.config.get_ops()
    decision = budget.decide(current, notification, policy, rt.now())
    context = fields(stage="budget", reason=decision.why)
    if not decision.acts:
        log.info("budget notification: nothing to do", extra=context)
        return decision

    if decision.workflow is not None:
        execution = starter.start(decision.workflow, decision.why)
        log.warning("budget workflow %s started: %s", decision.workflow.value, execution, extra=context)
    if decision.ops is not None:
        rt.config.set_ops(decision.ops)
        log.warning(
            "ops mode now %s (set by %s)", decision.ops.mode.value, decision.ops.set_by, extra=context
        )
    if decision.message is not None:
        tell_operators(decision.message, rt)
    if decision.ops is not None and decision.ops.mode == Mode.PAUSED and current.mode != Mode.PAUSED:
        tell_buyers(rt)
    return decision


def tell_buyers(rt: Services) -> None:
    """Users whose paid pictures the stop holds back hear they wait; like the operators' message,
    never at the cost of the switch itself."""
    try:
        told = tell_waiting_buyers(rt)
    except Exception as error:
        log.error("could not tell the waiting buyers", extra=fields(stage="budget", error=repr(error)[:300]))
        return
    log.info("waiting buyers told", extra=fields(stage="budget", reason=f"{told} told"))


def tell_operators(text: str, rt: Services) -> None:
    chat_id = rt.settings.ops_chat_id
    if chat_id is None:
        log.error("OPS_CHAT_ID is not set: the operators were not told", extra=fields(stage="budget"))
        return
    try:
        rt.bot.send_message(AnswerTo(chat_id), text)
    except TelegramError as error:
        log.error("could not tell the operators", extra=fields(stage="budget", error=str(error)))
