"""The billing guard's pure core: read a budget notification, decide what the bot does. No I/O.

Cloud Billing publishes a notification for a budget to its Pub/Sub topic several times a day,
whether or not a threshold was crossed; the body is the documented JSON (costAmount,
budgetAmount, alertThresholdExceeded when a threshold rule was crossed, costIntervalStart, …)
and the attributes name the billing account, the budget and the schema version. Delivery is
at-least-once and unordered, so the decision depends only on the notification and the ops
document: within a budget period (and budget amount) the guard only ever escalates, and a
threshold it has acted on (`Ops.budget_threshold`) is not acted on again, with one exception:
at or above the stop threshold the stop is started again on every notification until the
workflow has recorded that it verified the GPU at zero (`Ops.gpu_stop_verified`), so a stop
that failed is retried. A new budget amount, and an operator's /resume, re-arm the thresholds.

    spend ≥ first threshold (e.g. 50%)   tell the operators
    spend ≥ economy_at (90%)             economy mode
    spend ≥ stop_at (100%)               start the stop workflow: pause admissions, GPU to zero
    a new budget period                  back to normal, if the budget guard (not an operator)
                                         changed the mode
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from imagebot.core.ops import Mode, Ops

SUPPORTED_SCHEMA = "1.0"
SET_BY_BUDGET = "budget"
SET_BY_OPERATOR = "operator"
# The attribute of an operator's /resume request on the budget topic (Cloud Billing's own
# notifications carry no `kind`): only the budget guard's account may start the workflow.
RESUME_REQUEST = "operator-resume"


class BadNotification(ValueError):
    """Not a budget notification we understand: logged and acknowledged, never retried."""


@dataclass(frozen=True)
class BudgetNotification:
    budget_name: str
    cost: float
    budget: float
    currency: str
    period_start: datetime
    threshold_exceeded: float | None  # alertThresholdExceeded: only when an actual-spend rule fired
    billing_account_id: str = ""
    budget_id: str = ""

    @property
    def spent(self) -> float:
        """The fraction of the budget spent (0 for a zero budget, which cannot be exceeded)."""
        return self.cost / self.budget if self.budget > 0 else 0.0

    @property
    def period(self) -> str:
        """The budget period as a sortable key: the interval start, UTC, second precision."""
        return period_key(self.period_start)


def period_key(start: datetime) -> str:
    return start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_notification(body: bytes, attributes: Mapping[str, str]) -> BudgetNotification:
    """The documented budget notification (schemaVersion 1.0), or BadNotification."""
    schema = attributes.get("schemaVersion", SUPPORTED_SCHEMA)
    if schema.split(".")[0] != SUPPORTED_SCHEMA.split(".")[0]:
        raise BadNotification(f"unsupported budget notification schema {schema!r}")
    try:
        raw: Any = json.loads(body)
        cost = float(raw["costAmount"])
        budget = float(raw["budgetAmount"])
        start = _timestamp(raw["costIntervalStart"])
        threshold = raw.get("alertThresholdExceeded")
        return BudgetNotification(
            budget_name=str(raw.get("budgetDisplayName", "")),
            cost=cost,
            budget=budget,
            currency=str(raw.get("currencyCode", "")),
            period_start=start,
            threshold_exceeded=None if threshold is None else float(threshold),
            billing_account_id=attributes.get("billingAccountId", ""),
            budget_id=attributes.get("budgetId", ""),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise BadNotification(f"not a budget notification: {error!r}") from error


def _timestamp(text: str) -> datetime:
    value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"costIntervalStart without a time zone: {text!r}")
    return value


@dataclass(frozen=True)
class GuardPolicy:
    economy_at: float = 0.9
    stop_at: float = 1.0

    def __post_init__(self) -> None:
        if not 0 < self.economy_at <= self.stop_at:
            raise ValueError(f"need 0 < economy_at ({self.economy_at}) <= stop_at ({self.stop_at})")


def effective_threshold(notification: BudgetNotification, policy: GuardPolicy) -> float:
    """The threshold this notification stands for.

    The threshold rule that fired, or, when the spend itself has reached a step of the policy,
    that step: a budget whose rules lack a 90% or 100% rule, or a notification that arrives
    without alertThresholdExceeded, still stops the spending.
    """
    reached = [step for step in (policy.economy_at, policy.stop_at) if notification.spent >= step]
    return max([notification.threshold_exceeded or 0.0, *reached])


class Workflow(StrEnum):
    STOP = "stop"  # pause admissions, scale the GPU service to zero, verify, report
    RESUME = "resume"  # scale the GPU service back to its configured instances


@dataclass(frozen=True)
class Decision:
    ops: Ops | None  # the ops document to write; None: leave it as it is
    workflow: Workflow | None
    message: str | None  # for the operators' chat (HTML)
    why: str  # for the log

    @property
    def acts(self) -> bool:
        return self.ops is not None or self.workflow is not None or self.message is not None


def decide(current: Ops, notification: BudgetNotification, policy: GuardPolicy, now: datetime) -> Decision:
    period = notification.period
    if current.budget_period and period < current.budget_period:
        return Decision(None, None, None, f"a late notification for the past period {period}")

    base, notes, resume = current, [], False
    if current.budget_period != period:
        # A new period (or the guard's first notification ever). Undo what the guard did in the
        # last period; a mode an operator set by hand stays until an operator changes it.
        base = replace(current, budget_period=period, budget_threshold=0.0, updated_at=now)
        if current.set_by == SET_BY_BUDGET and current.mode != Mode.NORMAL:
            base = replace(base, mode=Mode.NORMAL, reason=f"new budget period {period}", set_by=SET_BY_BUDGET)
            resume = current.mode == Mode.PAUSED
            if current.budget_period:
                notes.append(f"🔄 New budget period ({period[:10]}): back to normal mode.")
    elif current.budget_amount and current.budget_amount != notification.budget:
        # The budget was changed: its thresholds are fractions of the new amount.
        base = replace(current, budget_threshold=0.0, updated_at=now)
        notes.append(
            f"🔁 Budget amount changed ({current.budget_amount:,.2f} → {notification.budget:,.2f}): "
            "thresholds re-armed."
        )
    if base.budget_amount != notification.budget:
        base = replace(base, budget_amount=notification.budget)

    threshold = effective_threshold(notification, policy)
    if threshold <= base.budget_threshold:
        if threshold >= policy.stop_at and not base.gpu_stop_verified:
            # Decided before, never verified: the last stop failed or is still running. Again.
            return Decision(
                base if base != current else None,
                Workflow.STOP,
                _join(notes),
                f"threshold {threshold:.0%}: stop not verified yet, started again",
            )
        changed = base != current
        why = "new budget period" if changed else f"threshold {threshold:.0%} already acted on"
        workflow = Workflow.RESUME if resume else None
        return Decision(base if changed else None, workflow, _join(notes), why)

    target = _mode_for(threshold, policy)
    mode = max(base.mode, target, key=lambda m: m.severity)  # never downgrade, never undo an operator
    escalated = replace(base, budget_threshold=threshold, updated_at=now)
    if mode != base.mode:
        reason = f"budget {threshold:.0%} of {notification.budget_name or 'the budget'}"
        escalated = replace(escalated, mode=mode, reason=reason, set_by=SET_BY_BUDGET)
    # The GPU stops at the stop threshold whoever paused the bot: money is the point here.
    workflow = Workflow.STOP if target == Mode.PAUSED else (Workflow.RESUME if resume else None)
    notes.append(_escalation_text(notification, threshold, target, policy))
    return Decision(escalated, workflow, _join(notes), f"threshold {threshold:.0%} reached: {target.value}")


def _mode_for(threshold: float, policy: GuardPolicy) -> Mode:
    if threshold >= policy.stop_at:
        return Mode.PAUSED
    if threshold >= policy.economy_at:
        return Mode.ECONOMY
    return Mode.NORMAL


def _escalation_text(n: BudgetNotification, threshold: float, target: Mode, policy: GuardPolicy) -> str:
    name = html.escape(n.budget_name or "budget")
    head = (
        f"💸 <b>{name}</b>: {threshold:.0%} threshold reached, "
        f"{n.cost:,.2f} of {n.budget:,.2f} {html.escape(n.currency)} spent this period."
    )
    if target == Mode.PAUSED:
        return (
            head
            + "\n⛔ Stopping: new jobs are paused and the GPU service is scaling to zero; "
            + ("the workflow reports when done.")
        )
    if target == Mode.ECONOMY:
        return (
            head
            + "\n🪫 Economy mode is on (fewer steps, smaller images, half quotas); "
            + (f"stop at {policy.stop_at:.0%}.")
        )
    return (
        head
        + f"\nNothing changed yet: economy mode at {policy.economy_at:.0%}, stop at {policy.stop_at:.0%}."
    )


def _join(notes: list[str]) -> str | None:
    return "\n\n".join(notes) or None
