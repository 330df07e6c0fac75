"""Failing a job: every accepted prompt ends in a photo or an apology, with a retry button.
Shared by report_failure, sweep_stuck_jobs and dispatch_vertex."""

from __future__ import annotations

import logging

from imagebot.core import keyboards, texts
from imagebot.core.jobs import State
from imagebot.edges.telegram import TelegramError
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.status import show_status

log = logging.getLogger(__name__)
UNREACHABLE = "unreachable"  # the reason a job closes with when its user cannot be reached


def fail(job_id: str, reason: str, rt: Services) -> None:
    job = rt.jobs.move_job(job_id, State.FAILED, rt.now(), reason=reason)
    if job is None:
        log.info(
            "failure for a job already finished", extra=fields(stage="failure", job_id=job_id, reason=reason)
        )
        return
    log.error("job failed", extra=fields(stage="failure", job_id=job_id, reason=reason))
    if not job.chat_id:
        # A document written by hand or by an older version, say: failed, with no one to tell.
        log.error("failed job has no chat to tell", extra=fields(stage="failure", job_id=job_id))
        return
    language = job.language
    try:
        if job.input_image:  # a photo's job: tried again from the stored photo
            text = texts.render(language, "failed_photo")
            show_status(job, text, rt, reply_markup=keyboards.retry(job_id, language))
        elif job.prompt:
            text = texts.render(language, "failed", prompt=texts.shorten(job.prompt, 200))
            show_status(job, text, rt, reply_markup=keyboards.retry(job_id, language))
        else:
            show_status(job, texts.render(language, "failed_generic"), rt)
    except TelegramError as error:
        if not error.user_unreachable:
            raise
        # The job is closed already; the user blocked the bot, so there is no one to tell.
        log.warning("apology not delivered: user unreachable", extra=fields(job_id=job_id, error=str(error)))


def close_unreachable(job_id: str | None, error: TelegramError, rt: Services, *, stage: str) -> None:
    """Telegram answered 403 (the user blocked the bot) or the chat is gone: no retry will
    ever reach them, so the job (if any, and not closed already) fails at once, untold."""
    closed = (
        rt.jobs.move_job(job_id, State.FAILED, rt.now(), reason=UNREACHABLE, error=str(error))
        if job_id
        else None
    )
    log.warning(
        "user unreachable; " + ("job closed" if closed else "nothing retried"),
        extra=fields(stage=stage, job_id=job_id, error=str(error)),
    )
