"""The one status message per job, edited as the job moves, so the chat stays clean."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from imagebot.core import keyboards
from imagebot.core.answer_to import AnswerTo
from imagebot.core.jobs import CANCELLABLE, Job
from imagebot.edges.telegram import TelegramError
from imagebot.logs import fields
from imagebot.ports import Services

log = logging.getLogger(__name__)


def show_status(job: Job, text: str, rt: Services, reply_markup: dict[str, Any] | None = None) -> None:
    """Edit the job's status message in place, or send it once and remember its id. While the
    job waits or draws, and no other keyboard is given, the status carries ✖ Cancel. A job
    chosen in inline mode has its placeholder message instead (status_markup)."""
    if job.inline_message_id:
        # Its buttons cannot reach the bot (see status_markup): the placeholder's own stay.
        inline_id, markup = job.inline_message_id, status_markup(job)
        _edit(job, lambda: rt.bot.edit_inline_text(inline_id, text, reply_markup=markup))
        return
    markup = reply_markup or status_markup(job)
    message_id = job.status_message_id
    if message_id:
        _edit(job, lambda: rt.bot.edit_message_text(job.chat_id, message_id, text, reply_markup=markup))
        return
    sent = rt.bot.send_message(AnswerTo.of_job(job), text, reply_markup=markup)
    rt.jobs.set_job_fields(job.job_id, status_message_id=sent["message_id"])


def status_markup(job: Job) -> dict[str, Any] | None:
    """The keyboard a status shows by default: an inline placeholder keeps its own (its buttons
    cannot reach the bot's chats, so no Cancel there); a waiting job has ✖ Cancel."""
    if job.inline_message_id:
        return keyboards.inline_placeholder(job.prompt or "", job.language)
    # A style of "all three" is charged and sent with its set: cancelling one alone would
    # leave the set's album waiting for it and its charge split, so a set has no Cancel.
    cancellable = job.state in CANCELLABLE and not job.set_id
    return keyboards.cancel(job.job_id, job.language) if cancellable else None


def _edit(job: Job, edit: Callable[[], Any]) -> None:
    try:
        edit()
    except TelegramError as error:
        if error.transient or error.user_unreachable:
            raise
        # "message is not modified" on a redelivery, or the user deleted it: harmless.
        log.info("status edit skipped", extra=fields(job_id=job.job_id, error=str(error)))
