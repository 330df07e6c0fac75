"""Operator commands: /stats, /pause, /resume. The webhook routes them here only for the
configured operators, and each handler checks again. (An operator's /refund <charge id> is
chat/payments.py's.)"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import UTC, datetime

from imagebot.chat.payments import tell_waiting_buyers
from imagebot.core import budget, stats, texts
from imagebot.core.answer_to import AnswerTo
from imagebot.core.ops import Mode
from imagebot.core.updates import Command
from imagebot.logs import fields
from imagebot.ports import Services

log = logging.getLogger(__name__)


def _allowed(command: Command, rt: Services) -> bool:
    if command.user_id in rt.settings.operator_ids:
        return True
    log.warning(
        "operator command from a non-operator", extra=fields(reason=command.name, chat_id=command.chat_id)
    )
    return False


def show_stats(command: Command, rt: Services) -> None:
    if not _allowed(command, rt):
        return
    now = rt.now()
    today = stats.summarise(rt.jobs.jobs_received_since(datetime(now.year, now.month, now.day, tzinfo=UTC)))
    hits, misses = rt.cache.cache_counts()
    lookups = hits + misses
    language = rt.users.language_of(command.user_id, command.language_code)
    ledger = rt.payments.totals()
    text = texts.render(
        language,
        "stats",
        jobs=today.jobs,
        delivered=today.delivered,
        failed=today.failed,
        rejected=today.rejected,
        cancelled=today.cancelled,
        queue=rt.jobs.queue_depth(),
        on_vertex=today.on_vertex,
        handed_back=today.handed_back,
        p50=_seconds(today.p50_seconds),
        p95=_seconds(today.p95_seconds),
        hits=hits,
        lookups=lookups,
        rate=f"{hits / lookups:.0%}" if lookups else "–",
        mode=rt.config.get_ops().mode.value,
    ) + texts.render(
        language,
        "stats_stars",
        paid=ledger.stars_paid,
        payments=ledger.payments,
        refunded=ledger.stars_refunded,
        refunds=ledger.refunds,
        held=ledger.credits_held,
        spent=ledger.credits_spent,
    )
    rt.bot.send_message(AnswerTo.of_event(command), text)


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def pause(command: Command, rt: Services) -> None:
    """Admissions stop; queued pictures still come, and their buyers hear that theirs wait."""
    if _set_mode(command, rt, Mode.PAUSED, "paused"):
        tell_waiting_buyers(rt)


def resume(command: Command, rt: Services) -> None:
    if not _allowed(command, rt):
        return
    current = rt.config.get_ops()
    if current.set_by == budget.SET_BY_BUDGET and current.mode == Mode.PAUSED:
        # The budget guard also scaled the GPU service to zero: bring it back, or admitted
        # jobs would wait for a GPU that never comes. Only the budget guard may start the
        # workflow (terraform/iam.tf), so it is asked on its own topic.
        request = json.dumps({"action": budget.Workflow.RESUME.value, "by": command.user_id}).encode()
        rt.publisher.publish(rt.settings.budget_topic, request, kind=budget.RESUME_REQUEST)
    # The thresholds are re-armed: a stop the guard decided before is decided again if the
    # spend still calls for it (raise the budget first, docs/OPERATIONS.md).
    rt.config.set_ops(replace(current, budget_threshold=0.0))
    _set_mode(command, rt, Mode.NORMAL, "resumed")


def _set_mode(command: Command, rt: Services, mode: Mode, answer: str) -> bool:
    """Whether the mode was set (an operator asked)."""
    if not _allowed(command, rt):
        return False
    current = rt.config.get_ops()
    reason = f"/{command.name} by {command.user_id}"
    rt.config.set_ops(
        replace(current, mode=mode, reason=reason, set_by=budget.SET_BY_OPERATOR, updated_at=rt.now())
    )
    log.warning("operating mode set by an operator", extra=fields(reason=mode.value, chat_id=command.chat_id))
    rt.bot.send_message(
        AnswerTo.of_event(command),
        texts.render(rt.users.language_of(command.user_id, command.language_code), answer),
    )
    return True
