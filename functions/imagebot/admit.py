"""rate_limit: admit a validated job against the user's quota, tell the user, queue the job."""

from __future__ import annotations

import logging
from typing import Any

from imagebot import texts
from imagebot.contract import GenerationJob
from imagebot.events import BadEvent, pubsub_data
from imagebot.jobs import State
from imagebot.logs import fields
from imagebot.quota import Admission
from imagebot.runtime import Runtime
from imagebot.styles import label
from imagebot.telegram import TelegramError

log = logging.getLogger(__name__)


def handle_message(data: Any, rt: Runtime) -> None:
    try:
        job_id = pubsub_data(data).decode()
    except (BadEvent, UnicodeDecodeError) as error:
        log.error("dropping an undecodable validated message", extra=fields(stage="admit", error=str(error)))
        return
    admit(job_id, rt)


def admit(job_id: str, rt: Runtime) -> None:
    context = fields(stage="admit", job_id=job_id)
    current = rt.store.get_job(job_id)
    if current is None:
        log.error("validated message for a job that does not exist", extra=context)
        return
    job, admission = rt.store.admit_job(job_id, current["user_id"], rt.quota_policy, rt.now())
    assert job is not None
    if admission is not None and not admission.admitted:
        log.info("job refused by quota", extra={**context, "reason": admission.reason})
        tell_refusal(job, admission, rt)
        return
    if job["state"] != State.QUEUED or job.get("dispatched_message_id"):
        # A redelivery of a job already sent on (or refused earlier): nothing to do. A job
        # queued but never sent on (the first attempt crashed in between) continues below.
        log.info("job already admitted", extra={**context, "reason": job["state"]})
        return
    show_status(job, texts.render(job["language"], "queued", style=label(job["style"])), rt)
    # The status is shown before the job goes out, so a fast delivery can never be
    # followed by a stale "queued" message.
    generation = GenerationJob(job_id=job_id, chat_id=job["chat_id"], prompt=job["prompt"], style=job["style"], seed=job["seed"])
    message_id = rt.publisher.publish(rt.settings.generation_topic, generation.to_json(), job_id=job_id)
    rt.store.set_job_fields(job_id, dispatched_message_id=message_id)
    log.info("job queued", extra=context)


def show_status(job: dict[str, Any], text: str, rt: Runtime) -> None:
    """Edit the job's status message in place, or send it once and remember its id."""
    message_id = job.get("status_message_id")
    if message_id:
        try:
            rt.bot.edit_message_text(job["chat_id"], message_id, text)
        except TelegramError as error:
            if error.transient:
                raise
            # "message is not modified" on a redelivery, or the user deleted it: harmless.
            log.info("status edit skipped", extra=fields(job_id=job["job_id"], error=str(error)))
        return
    sent = rt.bot.send_message(job["chat_id"], text, reply_to_message_id=job.get("message_id"))
    rt.store.set_job_fields(job["job_id"], status_message_id=sent["message_id"])


def tell_refusal(job: dict[str, Any], admission: Admission, rt: Runtime) -> None:
    seconds = admission.retry_after_seconds
    if admission.reason == "daily":
        text = texts.render(job["language"], "rejected_daily", hours=seconds // 3600, minutes=seconds % 3600 // 60)
    else:
        text = texts.render(job["language"], "rejected_rate", seconds=seconds)
    show_status(job, text, rt)
