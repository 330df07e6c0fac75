"""report_progress: the GPU service started drawing a job, or rejected it (the safety checker
flagged its picture, or the photo it starts from is gone); the user sees it at once, and a
rejected job's credits come back."""

from __future__ import annotations

import logging

from imagebot.core import keyboards, ledger, texts
from imagebot.core.answer_to import AnswerTo
from imagebot.core.contract import ProgressEvent
from imagebot.core.events import PubSubMessage
from imagebot.core.jobs import State
from imagebot.core.vocabulary import FLAGGED, INPUT_MISSING
from imagebot.edges.telegram import TelegramError
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.decoding import decode_or_drop
from imagebot.steps.delivery import deliver_set, title
from imagebot.steps.status import show_status

log = logging.getLogger(__name__)


@decode_or_drop(
    lambda message: ProgressEvent.from_json(message.data),
    stage="progress",
    what="progress message",
    job_of=lambda event, message: event.job_id,
)
def handle_message(event: ProgressEvent, message: PubSubMessage, rt: Services) -> None:
    job = rt.jobs.get_job(event.job_id)
    if event.state == State.REJECTED:
        # The GPU has rejected the job already (reason "flagged") and acknowledged its message:
        # this is the one place the user hears of it. Again draws a new seed. Credits it paid
        # come back first (once: a redelivery returns nothing), and the message says so.
        if job is not None and job.state == State.REJECTED:
            rt.payments.return_credits(job.job_id, rt.now())
        if job is not None and job.state == State.REJECTED and job.set_id:
            # One of a set: the set's message says so, once the others are drawn.
            deliver_set(job.set_id, f"progress-{message.message_id}", rt, context=fields(job_id=job.job_id))
        elif job is not None and job.state == State.REJECTED:
            language = job.language
            credits = ledger.credits_back_text(language, ledger.credits_given_back(job))
            if job.reason == INPUT_MISSING:
                # The stored photo is gone (the bucket keeps it a few days): Again could only
                # meet the same end, so the user is asked for the photo itself.
                show_status(job, texts.render(language, "photo_input_missing") + credits, rt)
                return
            flagged = job.reason == FLAGGED
            text = texts.render(language, "rejected_flagged" if flagged else "failed_generic") + credits
            show_status(job, text, rt, reply_markup=keyboards.again(event.job_id, language))
        return
    if job is None or job.state != State.GENERATING:
        # Already drawn or delivered (the photo beat this message): the status is gone.
        log.info("progress for a job past generating", extra=fields(stage="progress", job_id=event.job_id))
        return
    show_status(job, texts.render(job.language, "generating", style=title(job)), rt)
    if job.inline_message_id:
        return  # its placeholder is in another chat; the user's own may not even be open
    try:
        rt.bot.send_chat_action(AnswerTo.of_job(job), "upload_photo")
    except TelegramError as error:
        if error.transient or error.user_unreachable:
            raise
