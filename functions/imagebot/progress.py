"""report_progress: the GPU service started drawing a job, or rejected its picture (the safety
checker flagged it); the user sees it at once."""

from __future__ import annotations

import logging
from typing import Any

from imagebot import keyboards, texts
from imagebot.contract import ContractError, ProgressEvent
from imagebot.events import BadEvent, pubsub_data
from imagebot.jobs import State
from imagebot.logs import fields
from imagebot.runtime import Runtime
from imagebot.status import show_status
from imagebot.styles import label
from imagebot.telegram import TelegramError

log = logging.getLogger(__name__)


def handle_message(data: Any, rt: Runtime) -> None:
    try:
        event = ProgressEvent.from_json(pubsub_data(data))
    except (BadEvent, ContractError) as error:
        log.error(
            "dropping an undecodable progress message", extra=fields(stage="progress", error=str(error))
        )
        return
    job = rt.store.get_job(event.job_id)
    if event.state == State.REJECTED:
        # The GPU has rejected the job already (reason "flagged") and acknowledged its message:
        # this is the one place the user hears of it. Again draws a new seed.
        if job is not None and job["state"] == State.REJECTED:
            language = job.get("language", texts.DEFAULT_LANGUAGE)
            text = texts.render(language, "rejected_flagged")
            show_status(job, text, rt, reply_markup=keyboards.again(event.job_id, language))
        return
    if job is None or job["state"] != State.GENERATING:
        # Already drawn or delivered (the photo beat this message): the status is gone.
        log.info("progress for a job past generating", extra=fields(stage="progress", job_id=event.job_id))
        return
    show_status(job, texts.render(job["language"], "generating", style=label(job["style"])), rt)
    try:
        rt.bot.send_chat_action(job["chat_id"], "upload_photo")
    except TelegramError as error:
        if error.transient:
            raise
