"""The one status message per job, edited as the job moves, so the chat stays clean."""

from __future__ import annotations

import logging
from typing import Any

from imagebot.core.answer_to import AnswerTo
from imagebot.core.jobs import Job
from imagebot.edges.telegram import TelegramError
from imagebot.logs import fields
from imagebot.ports import Services

log = logging.getLogger(__name__)


def show_status(job: Job, text: str, rt: Services, reply_markup: dict[str, Any] | None = None) -> None:
    """Edit the job's status message in place, or send it once and remember its id."""
    message_id = job.status_message_id
    if message_id:
        try:
            rt.bot.edit_message_text(job.chat_id, message_id, text, reply_markup=reply_markup)
        except TelegramError as error:
            if error.transient or error.user_unreachable:
                raise
            # "message is not modified" on a redelivery, or the user deleted it: harmless.
            log.info("status edit skipped", extra=fields(job_id=job.job_id, error=str(error)))
        return
    sent = rt.bot.send_message(AnswerTo.of_job(job), text, reply_markup=reply_markup)
    rt.jobs.set_job_fields(job.job_id, status_message_id=sent["message_id"])
