"""deliver_image: an output object was finalized; send its photo once, close the job."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from imagebot import keyboards, texts
from imagebot.contract import ContractError, OutputMetadata, job_id_from_output_name
from imagebot.events import BadEvent, StorageObject, storage_object
from imagebot.jobs import State, stage_durations
from imagebot.logs import fields
from imagebot.runtime import Runtime
from imagebot.styles import label
from imagebot.telegram import TelegramError

log = logging.getLogger(__name__)

# How long a delivery in flight keeps others off the same job. Longer than one send takes,
# short enough that a crashed instance's claim does not hold the photo back for long.
DELIVERY_LEASE = timedelta(minutes=2)


def handle_event(data: Any, event_id: str, rt: Runtime) -> None:
    try:
        obj = storage_object(data)
    except BadEvent as error:
        log.error("dropping an undecodable storage event", extra=fields(stage="deliver", error=str(error)))
        return
    deliver(obj, event_id, rt)


def deliver(obj: StorageObject, event_id: str, rt: Runtime) -> None:
    job_id = job_id_from_output_name(obj.name)
    if job_id is None or obj.bucket != rt.settings.images_bucket:
        log.info("not an output object", extra=fields(stage="deliver", reason=f"{obj.bucket}/{obj.name}"))
        return
    context = fields(stage="deliver", job_id=job_id)
    try:
        OutputMetadata.from_metadata(obj.metadata)
    except ContractError as error:
        # The photo can still go out: the job document knows the chat. Say so loudly.
        log.error("output object breaks the contract", extra={**context, "error": str(error)})

    # A claim per attempt, not per event: Eventarc redelivers an event whose first attempt it
    # believes lost (a timeout) while that attempt may still be sending, and two attempts of one
    # event id must not both send. A failed attempt releases its claim below; only a crashed one
    # holds the photo back, for the lease.
    claimant = f"{event_id}/{uuid.uuid4().hex}"
    job = rt.store.claim_delivery(job_id, claimant=claimant, now=rt.now(), lease=DELIVERY_LEASE)
    if job is None:
        log.info("already delivered, failed, in flight or unknown", extra=context)
        return
    try:
        sent = send(job, obj, rt)
    except TelegramError as error:
        if error.user_unreachable:
            rt.store.move_job(job_id, State.FAILED, rt.now(), reason="undeliverable", error=str(error))
            log.warning(
                "user unreachable; job closed without a photo", extra={**context, "error": str(error)}
            )
            return
        rt.store.release_delivery(job_id)
        raise
    except Exception:
        rt.store.release_delivery(job_id)
        raise

    photo_file_id = sent["photo"][-1]["file_id"] if sent.get("photo") else None
    # The GPU stamps `generated` just after the upload; an event that outruns that stamp would
    # close the job without its drawing time. The object's creation time is when it was drawn.
    drawn = (
        {} if "generated" in job.get("times", {}) or obj.created is None else {"times.generated": obj.created}
    )
    delivered = rt.store.move_job(
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


def remember_quietly(job: dict[str, Any], rt: Runtime) -> None:
    """The photo is out and the job closed: bookkeeping that fails (a contended statistics
    document, say) is logged, never turned into a retry of a delivery already done."""
    try:
        remember(job, rt)
    except Exception:
        log.warning("delivery bookkeeping failed", exc_info=True, extra=fields(job_id=job["job_id"]))


def remember(job: dict[str, Any], rt: Runtime) -> None:
    """History for /history, the prompt cache, the time each stage took, and the running time
    per picture for queue estimates."""
    if job.get("photo_file_id"):
        entry = {
            "job_id": job["job_id"],
            "file_id": job["photo_file_id"],
            "style": job["style"],
            "prompt": job["prompt"],
        }
        rt.store.add_to_history(job["user_id"], entry)
        if job.get("cache_key"):
            rt.store.remember_photo(job["cache_key"], job["photo_file_id"], job["job_id"], rt.now())
    times = job.get("times", {})
    durations = {stage: round(seconds * 1000) for stage, seconds in stage_durations(times)}
    rt.store.set_job_fields(job["job_id"], durations_ms=durations)
    if "generating" in times and "generated" in times:
        rt.store.record_generation((times["generated"] - times["generating"]).total_seconds())


def send(job: dict[str, Any], obj: StorageObject, rt: Runtime) -> dict[str, Any]:
    photo = rt.download(obj.bucket, obj.name)
    return send_photo(job, rt, photo=(obj.name.rsplit("/", 1)[-1], photo, obj.content_type))


def send_photo(job: dict[str, Any], rt: Runtime, *, photo: tuple[str, bytes, str] | str) -> dict[str, Any]:
    """The photo as the answer to the prompt, with its caption and buttons: an upload, or a
    Telegram file id when the picture was drawn before."""
    language = job.get("language", texts.DEFAULT_LANGUAGE)
    return rt.bot.send_photo(
        job["chat_id"],
        photo,
        caption=photo_caption(job),
        reply_to_message_id=job.get("message_id"),
        reply_markup=keyboards.photo_actions(
            job["job_id"], job["style"], language, drawn_as=drawn_differently(job)
        ),
    )


def photo_caption(job: dict[str, Any], *, drawn_as: str = "") -> str:
    language = job.get("language", texts.DEFAULT_LANGUAGE)
    # The GPU says whether the negative prompt was drawn with (economy's recipe cannot):
    # the caption claims it only then.
    negative = job.get("negative_prompt", "") if job.get("negative_applied", True) else ""
    return texts.caption(
        language, label(job["style"]), job["prompt"], job["seed"], negative, drawn_as=drawn_as
    )


def drawn_differently(job: dict[str, Any]) -> bool:
    """The model drew from other words than the user's (translated or enhanced)."""
    return bool(job.get("model_prompt")) and job["model_prompt"] != job["prompt"]


def show_drawn_as(job: dict[str, Any], rt: Runtime) -> None:
    """The photo's caption with the model's English added, and its button gone."""
    rt.bot.edit_message_caption(
        job["chat_id"],
        job["delivered_message_id"],
        photo_caption(job, drawn_as=job["model_prompt"]),
        reply_markup=keyboards.photo_actions(
            job["job_id"], job["style"], job.get("language", texts.DEFAULT_LANGUAGE)
        ),
    )


def remove_status(job: dict[str, Any], rt: Runtime) -> None:
    """The photo replaces the status message, so the chat stays clean."""
    message_id = job.get("status_message_id")
    if not message_id:
        return
    try:
        rt.bot.delete_message(job["chat_id"], message_id)
    except TelegramError as error:
        log.info("status message not removed", extra=fields(job_id=job["job_id"], error=str(error)))
