"""rate_limit: admit a validated job against the user's quota and the operating mode, tell
the user where they stand in the queue, and send the job to the GPU."""

from __future__ import annotations

import logging

from imagebot.core import texts
from imagebot.core.contract import GenerationJob
from imagebot.core.events import PubSubMessage
from imagebot.core.jobs import Job, State, cache_key, cacheable
from imagebot.core.ops import Mode, generation_mode, quota_in_mode
from imagebot.core.routing import GpuRoute, choose_route
from imagebot.edges.telegram import TelegramError
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.decoding import decode_or_drop
from imagebot.steps.delivery import DELIVERY_LEASE, remember_quietly, remove_status, send_photo, title
from imagebot.steps.status import show_status

log = logging.getLogger(__name__)
DEFAULT_SECONDS_PER_IMAGE = 6.0  # until the running average has its first figure


@decode_or_drop(
    lambda message: message.data.decode(),
    stage="admit",
    what="validated message",
    job_of=lambda job_id, message: job_id,
)
def handle_message(job_id: str, message: PubSubMessage, rt: Services) -> None:
    admit(job_id, rt, message.message_id)


def admit(job_id: str, rt: Services, message_id: str | None = None) -> None:
    context = fields(stage="admit", job_id=job_id)
    current = rt.jobs.get_job(job_id)
    if current is None:
        log.error("validated message for a job that does not exist", extra=context)
        return
    mode = rt.config.get_ops().mode
    cached = current.state == State.VALIDATED and cacheable(current)
    if cached and serve_from_cache(current, generation_mode(mode), rt, message_id):
        return
    policy = quota_in_mode(rt.quota_policy, mode)
    job, admission = rt.jobs.admit_job(
        job_id, current.user_id, policy, rt.now(), paused=mode == Mode.PAUSED, message_id=message_id
    )
    if job is None:  # deleted since it was read: nothing left to admit
        log.error("job vanished while being admitted", extra=context)
        return
    if admission is not None and not admission.admitted:
        log.info("job refused", extra={**context, "reason": admission.reason})
    if job.state == State.REJECTED:
        tell_refusal(job, rt)
        return
    if job.state != State.QUEUED or job.dispatched_message_id:
        # A redelivery of a job already sent on (or refused earlier): nothing to do. A job
        # queued but never sent on (the first attempt crashed in between) continues below.
        log.info("job already admitted", extra={**context, "reason": job.state})
        return
    if admission is None and job.admitted_by not in (None, message_id):
        # Another message for this job (it was validated twice) admitted it and is sending it
        # on right now; were both to go on, the user would get two status messages and the
        # GPU two jobs. Should that delivery fail, Pub/Sub redelivers its message.
        log.info("job admitted by another message", extra={**context, "reason": job.admitted_by})
        return
    # The status goes out before the job does, so a fast delivery is never followed by a
    # stale "queued" message.
    show_queue_position(job, rt)
    prompt, style, seed = job.drawing()
    generation = GenerationJob(
        job_id=job_id,
        chat_id=job.chat_id,
        # The English the model reads best (translation.py); the user's own words stay in
        # `prompt`, for captions. Jobs from before translation have no model_prompt.
        prompt=job.model_prompt or prompt,
        style=style,
        seed=seed,
        negative_prompt=job.negative_prompt,
        aspect=job.aspect,
        mode=generation_mode(mode),
        input_image=job.input_image or "",
        strength=job.strength,
        candidates=job.candidates,
    )
    route = choose_gpu_route(mode, rt)
    topic = rt.settings.generation_topic if route == GpuRoute.CLOUD_RUN else rt.settings.vertex_jobs_topic
    message_id = rt.publisher.publish(topic, generation.to_json(), job_id=job_id)
    # A photo job has no cache key: its picture is never kept as the answer to its words.
    key = {"cache_key": cache_key(job, generation.mode)} if cacheable(job) else {}
    rt.jobs.set_job_fields(job_id, dispatched_message_id=message_id, gpu_route=route.value, **key)
    log.info("job queued", extra={**context, "reason": f"route {route.value}"})


def choose_gpu_route(mode: Mode, rt: Services) -> GpuRoute:
    s = rt.settings
    return choose_route(
        s.gpu_route,
        mode,
        lambda: rt.jobs.oldest_queued_since(GpuRoute.CLOUD_RUN.value),
        rt.config.endpoint_failed_at,
        rt.now(),
        s.overflow_queue_age_seconds,
    )


def show_queue_position(job: Job, rt: Services) -> None:
    """A courtesy that never holds the picture back: with Telegram rate-limiting the chat for
    longer than the client waits (or failing), the job goes on without it, and the photo's
    delivery retries on its own. Pub/Sub's five attempts would otherwise run out on the status
    message and fail a job the GPU could draw."""
    try:
        show_status(job, queue_text(job, rt), rt)
    except TelegramError as error:
        if not error.transient:
            raise
        log.warning(
            "queue status not shown; the job goes on",
            extra=fields(stage="admit", job_id=job.job_id, error=str(error)),
        )


def serve_from_cache(job: Job, mode: str, rt: Services, message_id: str | None = None) -> bool:
    """A picture drawn before for the same words, style, seed and size goes out again by its
    Telegram file id: no GPU, no quota. True when the job was answered so."""
    file_id = rt.cache.cached_photo(cache_key(job, mode))
    if file_id is None:
        return False
    # Claimed for this message: a redelivery of it may finish a send that crashed, a second
    # message for the same job (validated twice) may not send the photo again.
    claimant = f"cache-{message_id or job.job_id}"
    claimed = rt.jobs.claim_delivery(job.job_id, claimant=claimant, now=rt.now(), lease=DELIVERY_LEASE)
    if claimed is None:
        return True  # delivered (or being delivered) by an earlier attempt
    sent = send_photo(claimed, rt, photo=file_id)
    delivered = rt.jobs.move_job(
        job.job_id,
        State.DELIVERED,
        rt.now(),
        photo_file_id=file_id,
        delivered_message_id=sent["message_id"],
        cached=True,
    )
    log.info("served from the prompt cache", extra=fields(stage="admit", job_id=job.job_id))
    remove_status(claimed, rt)
    if delivered is not None:
        remember_quietly(delivered, rt)
    return True


def queue_text(job: Job, rt: Services) -> str:
    """Where the job stands, and a wait estimated from the recent time per picture."""
    position = max(1, rt.jobs.queue_depth())
    wait = texts.wait_text(job.language, position * rt.cache.seconds_per_image(DEFAULT_SECONDS_PER_IMAGE))
    key = "queued_next" if position == 1 else "queued"
    return texts.render(job.language, key, style=title(job), position=position, wait=wait)


def tell_refusal(job: Job, rt: Services) -> None:
    """The refusal, told once per notice window (quota.refusal_notice). A style question still on
    screen is answered all the same, so no button is left that leads nowhere. Marked once out:
    a redelivery after a failed send (a Telegram hiccup) tells it then, and never twice."""
    if job.refusal_shown or not (job.told or job.status_message_id):
        return
    show_status(job, refusal_text(job.language, job.reason, job.retry_after_seconds), rt)
    rt.jobs.set_job_fields(job.job_id, refusal_shown=True)


def refusal_text(language: str, reason: str | None, seconds: int) -> str:
    if reason == "daily":  # and how to go on today: a pack of pictures
        hours, minutes = seconds // 3600, seconds % 3600 // 60
        return texts.render(language, "rejected_daily", hours=hours, minutes=minutes) + texts.render(
            language, "rejected_daily_buy"
        )
    if reason == "paused":
        return texts.render(language, "rejected_paused")
    return texts.render(language, "rejected_rate", seconds=seconds)
