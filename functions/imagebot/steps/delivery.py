"""Sending a finished picture and the bookkeeping after it: shared by deliver_image (a new
drawing), sweep_stuck_jobs (a photo Telegram would not take earlier) and rate_limit (a picture
from the prompt cache), and the "Drawn as" button."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from imagebot.core import keyboards, texts
from imagebot.core.answer_to import AnswerTo
from imagebot.core.events import StorageObject
from imagebot.core.jobs import Job, State, delivery_retry_delay, stage_durations
from imagebot.core.styles import label
from imagebot.edges.telegram import TelegramError
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.failure import UNREACHABLE

log = logging.getLogger(__name__)

# How long a delivery in flight keeps others off the same job. Longer than one send takes,
# short enough that a crashed instance's claim does not hold the photo back for long.
DELIVERY_LEASE = timedelta(minutes=2)


def deliver_output(
    job_id: str, obj: StorageObject, claimant: str, rt: Services, *, context: dict[str, Any]
) -> bool:
    """Send the job's photo from `obj` once, and close the job; True when this call sent it.

    The claim (JobStore.claim_delivery, a transaction) keeps every other attempt off the job
    while this one sends, so there is never a second photo; it raises DeliveryPending while
    another attempt holds it or before the job's `delivery_retry_at`. A send that fails for
    now (a 5xx, a timeout, a 429) records when to try again and what to send, releases the
    claim and raises, so Eventarc redelivers and the sweep (sweep_stuck_jobs) tries then too.
    A user who cannot be reached closes the job at once."""
    job = rt.jobs.claim_delivery(job_id, claimant=claimant, now=rt.now(), lease=DELIVERY_LEASE)
    if job is None:
        log.info("already delivered, failed or unknown", extra=context)
        return False
    try:
        photo = rt.download(obj.bucket, obj.name)
        sent = send_photo(job, rt, photo=(obj.name.rsplit("/", 1)[-1], photo, obj.content_type))
    except TelegramError as error:
        if error.user_unreachable:
            rt.jobs.move_job(job_id, State.FAILED, rt.now(), reason=UNREACHABLE, error=str(error))
            log.warning(
                "user unreachable; job closed without a photo", extra={**context, "error": str(error)}
            )
            return False
        if not error.transient:
            rt.jobs.release_delivery(job_id)
            raise
        attempts = job.delivery_attempts
        s = rt.settings
        delay = delivery_retry_delay(
            attempts,
            error.not_before,
            initial=s.delivery_retry_initial_seconds,
            cap=s.delivery_retry_max_seconds,
        )
        rt.jobs.defer_delivery(
            job_id,
            rt.now() + delay,
            delivery_attempts=attempts + 1,
            output_name=obj.name,
            output_type=obj.content_type,
            delivery_error=str(error),
        )
        log.warning(
            "photo not sent; tried again later",
            extra={**context, "error": str(error), "reason": f"retry in {delay.total_seconds():.0f}s"},
        )
        raise
    except Exception:
        rt.jobs.release_delivery(job_id)
        raise

    photo_file_id = sent["photo"][-1]["file_id"] if sent.get("photo") else None
    # The GPU stamps `generated` just after the upload; an event that outruns that stamp would
    # close the job without its drawing time. The object's creation time is when it was drawn.
    drawn = {} if "generated" in job.times or obj.created is None else {"times.generated": obj.created}
    delivered = rt.jobs.move_job(
        job_id,
        State.DELIVERED,
        rt.now(),
        photo_file_id=photo_file_id,
        delivered_message_id=sent["message_id"],
        output_name=obj.name,
        **drawn,
    )
    log.info("photo delivered", extra=context)
    remove_status(job, rt)
    if delivered is not None:
        remember_quietly(delivered, rt)
    return True


def recorded_output(job: Job, bucket: str) -> StorageObject | None:
    """The output a deferred delivery recorded on the job (deliver_output), to send again."""
    name = job.output_name
    if not isinstance(name, str):
        return None
    content_type = str(job.output_type or "application/octet-stream")
    return StorageObject(bucket=bucket, name=name, generation="", content_type=content_type, metadata={})


def remember_quietly(job: Job, rt: Services) -> None:
    """The photo is out and the job closed: bookkeeping that fails (a contended statistics
    document, say) is logged, never turned into a retry of a delivery already done."""
    try:
        remember(job, rt)
    except Exception:
        log.warning("delivery bookkeeping failed", exc_info=True, extra=fields(job_id=job.job_id))


def remember(job: Job, rt: Services) -> None:
    """History for /history, the prompt cache, the time each stage took, and the running time
    per picture for queue estimates."""
    if job.photo_file_id:
        entry = {
            "job_id": job.job_id,
            "file_id": job.photo_file_id,
            "style": job.style,
            "prompt": job.prompt,
        }
        if job.negative_prompt and job.negative_applied:
            # What the caption said was left out: the picture is the same, so is its caption.
            entry["negative_prompt"] = job.negative_prompt
        rt.users.add_to_history(job.user_id, entry)
        if job.cache_key:
            rt.cache.remember_photo(job.cache_key, job.photo_file_id, job.job_id, rt.now())
    times = job.times
    durations = {stage: round(seconds * 1000) for stage, seconds in stage_durations(times)}
    rt.jobs.set_job_fields(job.job_id, durations_ms=durations)
    if "generating" in times and "generated" in times:
        rt.cache.record_generation((times["generated"] - times["generating"]).total_seconds())


def send_photo(job: Job, rt: Services, *, photo: tuple[str, bytes, str] | str) -> dict[str, Any]:
    """The photo as the answer to the prompt, with its caption and buttons: an upload, or a
    Telegram file id when the picture was drawn before."""
    language = job.language
    return rt.bot.send_photo(
        AnswerTo.of_job(job),
        photo,
        caption=photo_caption(job),
        reply_markup=keyboards.photo_actions(
            job.job_id, job.drawing()[1], language, drawn_as=drawn_differently(job)
        ),
    )


def photo_caption(job: Job, *, drawn_as: str = "") -> str:
    language = job.language
    prompt, style, seed = job.drawing()
    if job.input_image:  # the caption names the style the user's photo was drawn in
        return texts.photo_caption(language, label(style), prompt, seed, drawn_as)
    # The GPU says whether the negative prompt was drawn with (economy's recipe cannot):
    # the caption claims it only then.
    negative = job.negative_prompt if job.negative_applied else ""
    return texts.caption(language, label(style), prompt, seed, negative, drawn_as=drawn_as)


def drawn_differently(job: Job) -> bool:
    """The model drew from other words than the user's (translated or enhanced); a photo
    without a caption has no words of the user's to set beside the model's."""
    return bool(job.model_prompt) and bool(job.prompt) and job.model_prompt != job.prompt


def show_drawn_as(job: Job, message_id: int, model_prompt: str, rt: Services) -> None:
    """The photo's caption (message `message_id`) with the model's English added, and its
    button gone."""
    rt.bot.edit_message_caption(
        job.chat_id,
        message_id,
        photo_caption(job, drawn_as=model_prompt),
        reply_markup=keyboards.photo_actions(job.job_id, job.drawing()[1], job.language),
    )


def remove_status(job: Job, rt: Services) -> None:
    """The photo replaces the status message, so the chat stays clean."""
    message_id = job.status_message_id
    if not message_id:
        return
    try:
        rt.bot.delete_message(job.chat_id, message_id)
    except TelegramError as error:
        log.info("status message not removed", extra=fields(job_id=job.job_id, error=str(error)))
