"""report_failure and sweep_stuck_jobs: every accepted prompt ends in a photo or an apology.

Pub/Sub dead-letters a message after its delivery attempts run out (it adds the
`CloudPubSubDeadLetterSource*` attributes); the sweep catches jobs that stalled without a
message to dead-letter (an instance lost mid-generation with its message acknowledged, say).
Either way the job is failed with its reason and the user gets a retry button.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from imagebot.core import keyboards, texts
from imagebot.core.events import BadEvent, pubsub_data
from imagebot.core.jobs import State, job_id_for_update
from imagebot.core.updates import MalformedUpdate, Prompt, decode_event
from imagebot.logs import fields
from imagebot.runtime import Runtime
from imagebot.steps.status import show_status

log = logging.getLogger(__name__)
STALLED_STATES = (State.QUEUED, State.GENERATING, State.GENERATED)


def handle_dead_letter(data: Any, rt: Runtime) -> None:
    try:
        body = pubsub_data(data)
    except BadEvent as error:
        log.error("undecodable dead letter", extra=fields(stage="failure", error=str(error)))
        return
    attributes = (data.get("message") or {}).get("attributes") or {}
    source = attributes.get("CloudPubSubDeadLetterSourceSubscription", "unknown subscription")
    attempts = attributes.get("CloudPubSubDeadLetterSourceDeliveryCount", "?")
    reason = f"dead-lettered from {source} after {attempts} attempts"
    job_id = attributes.get("job_id")
    if job_id is None:
        job_id = _job_of_inbound(body, reason, rt)
    if job_id is not None:
        fail(job_id, reason, rt)


def _job_of_inbound(body: bytes, reason: str, rt: Runtime) -> str | None:
    """An update that never became a job: a prompt's job is failed; anything else gets an apology."""
    try:
        event = decode_event(body)
    except MalformedUpdate as error:
        log.error(
            "dead letter of no known shape", extra=fields(stage="failure", error=str(error), reason=reason)
        )
        return None
    if isinstance(event, Prompt):
        job_id = job_id_for_update(event.update_id)
        rt.store.create_job(
            job_id,
            {
                "job_id": job_id,
                "update_id": event.update_id,
                "chat_id": event.chat_id,
                "user_id": event.user_id,
                "message_id": event.message_id,
                "language": texts.language_for(event.language_code),
                "state": State.RECEIVED.value,
                "times": {State.RECEIVED.value: rt.now()},
            },
        )
        return job_id
    log.error(
        "an update failed for good", extra=fields(stage="failure", update_id=event.update_id, reason=reason)
    )
    rt.bot.send_message(
        event.chat_id, texts.render(texts.language_for(event.language_code), "failed_generic")
    )
    return None


def fail(job_id: str, reason: str, rt: Runtime) -> None:
    job = rt.store.move_job(job_id, State.FAILED, rt.now(), reason=reason)
    if job is None:
        log.info(
            "failure for a job already finished", extra=fields(stage="failure", job_id=job_id, reason=reason)
        )
        return
    log.error("job failed", extra=fields(stage="failure", job_id=job_id, reason=reason))
    language = job.get("language", texts.DEFAULT_LANGUAGE)
    if job.get("prompt"):
        text = texts.render(language, "failed", prompt=texts.shorten(job["prompt"], 200))
        show_status(job, text, rt, reply_markup=keyboards.retry(job_id, language))
    else:
        show_status(job, texts.render(language, "failed_generic"), rt)


def sweep(rt: Runtime) -> int:
    """Fail every job stuck past its deadline in an admitted state; returns how many."""
    deadline = rt.now() - timedelta(seconds=rt.settings.job_deadline_seconds)
    swept = 0
    for job in rt.store.jobs_in_states(STALLED_STATES):
        stamped = job.get("times", {}).get(job["state"])
        if stamped is not None and stamped < deadline:
            fail(job["job_id"], f"stuck in {job['state']} past the deadline", rt)
            swept += 1
    log.info("sweep done", extra=fields(stage="sweep", reason=f"{swept} failed"))
    return swept
