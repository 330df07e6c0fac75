"""Sending a finished picture and the bookkeeping after it: shared by deliver_image (a new
drawing) and rate_limit (a picture from the prompt cache), and the "Drawn as" button."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from imagebot.core import keyboards, texts
from imagebot.core.jobs import stage_durations
from imagebot.core.styles import label
from imagebot.edges.telegram import TelegramError
from imagebot.logs import fields
from imagebot.ports import Services

log = logging.getLogger(__name__)

# How long a delivery in flight keeps others off the same job. Longer than one send takes,
# short enough that a crashed instance's claim does not hold the photo back for long.
DELIVERY_LEASE = timedelta(minutes=2)


def remember_quietly(job: dict[str, Any], rt: Services) -> None:
    """The photo is out and the job closed: bookkeeping that fails (a contended statistics
    document, say) is logged, never turned into a retry of a delivery already done."""
    try:
        remember(job, rt)
    except Exception:
        log.warning("delivery bookkeeping failed", exc_info=True, extra=fields(job_id=job["job_id"]))


def remember(job: dict[str, Any], rt: Services) -> None:
    """History for /history, the prompt cache, the time each stage took, and the running time
    per picture for queue estimates."""
    if job.get("photo_file_id"):
        entry = {
            "job_id": job["job_id"],
            "file_id": job["photo_file_id"],
            "style": job["style"],
            "prompt": job["prompt"],
        }
        rt.users.add_to_history(job["user_id"], entry)
        if job.get("cache_key"):
            rt.cache.remember_photo(job["cache_key"], job["photo_file_id"], job["job_id"], rt.now())
    times = job.get("times", {})
    durations = {stage: round(seconds * 1000) for stage, seconds in stage_durations(times)}
    rt.jobs.set_job_fields(job["job_id"], durations_ms=durations)
    if "generating" in times and "generated" in times:
        rt.cache.record_generation((times["generated"] - times["generating"]).total_seconds())


def send_photo(job: dict[str, Any], rt: Services, *, photo: tuple[str, bytes, str] | str) -> dict[str, Any]:
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


def show_drawn_as(job: dict[str, Any], rt: Services) -> None:
    """The photo's caption with the model's English added, and its button gone."""
    rt.bot.edit_message_caption(
        job["chat_id"],
        job["delivered_message_id"],
        photo_caption(job, drawn_as=job["model_prompt"]),
        reply_markup=keyboards.photo_actions(
            job["job_id"], job["style"], job.get("language", texts.DEFAULT_LANGUAGE)
        ),
    )


def remove_status(job: dict[str, Any], rt: Services) -> None:
    """The photo replaces the status message, so the chat stays clean."""
    message_id = job.get("status_message_id")
    if not message_id:
        return
    try:
        rt.bot.delete_message(job["chat_id"], message_id)
    except TelegramError as error:
        log.info("status message not removed", extra=fields(job_id=job["job_id"], error=str(error)))
