"""Sending a finished picture and the bookkeeping after it: shared by deliver_image (a new
drawing), sweep_stuck_jobs (a photo Telegram would not take earlier) and rate_limit (a picture
from the prompt cache), and the "Drawn as" button. A grid's collage goes out with its ⬆ and 🔀
buttons; the jobs of a set (all three styles) go out together, as one album (deliver_set)."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Any

from imagebot.core import keyboards, ledger, texts
from imagebot.core.answer_to import AnswerTo
from imagebot.core.contract import ContractError, OutputMetadata, candidate_from_name
from imagebot.core.events import StorageObject
from imagebot.core.jobs import FINAL, Job, State, delivery_retry_delay, stage_durations
from imagebot.core.styles import label
from imagebot.core.vocabulary import FLAGGED
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
    A user who cannot be reached closes the job at once. A job of a set (all three styles)
    waits for the others and goes out with them, as one album (deliver_set)."""
    member = rt.jobs.get_job(job_id)
    if member is not None and member.set_id:
        return deliver_set_member(member, obj, claimant, rt, context=context)
    job = rt.jobs.claim_delivery(job_id, claimant=claimant, now=rt.now(), lease=DELIVERY_LEASE)
    if job is None:
        # Final (delivered, failed, rejected, or cancelled by the user: its picture is never
        # sent) or unknown.
        log.info("nothing to deliver: the job is final or unknown", extra=context)
        return False
    if job.candidates > 1 and job.flagged is None:
        # The grid's blank tiles get no buttons; kept on the job for a deferred send's retry.
        job = replace(job, flagged=flagged_candidates(obj))
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
            flagged=job.flagged,
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
        flagged=job.flagged,
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
    Telegram file id when the picture was drawn before. A grid's collage gets ⬆n and 🔀n."""
    language = job.language
    if job.candidates > 1:
        markup = keyboards.grid_actions(job.job_id, language, tuple(job.flagged or ()))
    else:
        markup = keyboards.photo_actions(
            job.job_id, job.drawing()[1], language, drawn_as=drawn_differently(job)
        )
    try:
        sent = rt.bot.send_photo(AnswerTo.of_job(job), photo, caption=photo_caption(job), reply_markup=markup)
    except TelegramError as error:
        if error.user_unreachable and job.inline_message_id:
            # Chosen in inline mode by someone who never opened the bot's chat: no photo, so
            # no file id for the placeholder. It says how to get one next time.
            _edit_inline_quietly(job, texts.render(language, "inline_needs_chat"), rt)
        raise
    replace_placeholder(job, sent, rt)
    return sent


def _edit_inline_quietly(job: Job, text: str, rt: Services) -> None:
    try:
        rt.bot.edit_inline_text(job.inline_message_id or "", text)
    except TelegramError as error:
        log.warning("inline message not edited", extra=fields(job_id=job.job_id, error=str(error)))


def replace_placeholder(job: Job, sent: dict[str, Any], rt: Services) -> None:
    """A job chosen in inline mode: its placed message becomes the photo just sent to the
    user's private chat, by that photo's file id (an inline message takes no upload). The photo
    is out already, so a refusal here is logged, never retried into a second photo."""
    inline_id = job.inline_message_id
    if not inline_id or not sent.get("photo"):
        return
    try:
        rt.bot.edit_inline_photo(
            inline_id,
            sent["photo"][-1]["file_id"],
            caption=photo_caption(job),
            reply_markup=keyboards.inline_placeholder(job.prompt or "", job.language),
        )
    except TelegramError as error:
        log.warning("inline message not replaced", extra=fields(job_id=job.job_id, error=str(error)))


def photo_caption(job: Job, *, drawn_as: str = "") -> str:
    language = job.language
    prompt, style, seed = job.drawing()
    if job.candidates > 1:
        return grid_caption(job)
    if job.input_image:  # the caption names the style the user's photo was drawn in
        return texts.photo_caption(language, label(style), prompt, seed, drawn_as)
    # The GPU says whether the negative prompt was drawn with (economy's recipe cannot):
    # the caption claims it only then.
    negative = job.negative_prompt if job.negative_applied else ""
    return texts.caption(language, label(style), prompt, seed, negative, drawn_as=drawn_as)


# -- more than one picture (issue 16): a grid's collage, a set's album ------------------------


def title(job: Job) -> str:
    """What the job draws, for its status and caption: the style, and for a grid whether it
    is four variants or four variations of a candidate (and which)."""
    style = label(job.drawing()[1])
    if job.candidates == 1:
        return style
    varied = candidate_from_name(job.input_image or "")
    if varied is not None:
        return texts.render(job.language, "title_variation", style=style, n=varied[1])
    return texts.render(job.language, "title_grid", style=style)


def grid_caption(job: Job) -> str:
    """The collage's caption: what it is, its seeds (candidate n drew with seed + n - 1), the
    words, and which tiles the safety checker left blank."""
    prompt, _, seed = job.drawing()
    text = texts.render(
        job.language,
        "caption_grid",
        title=title(job),
        first=seed,
        last=candidate_seed(seed, job.candidates),
        prompt=texts.shorten(prompt, 700),
    )
    if job.flagged:
        text += texts.render(job.language, "caption_grid_flagged", flagged=", ".join(map(str, job.flagged)))
    return text


def candidate_seed(seed: int, n: int) -> int:
    """The seed candidate n (1..GRID_SIZE) of a grid drew with (the contract's rule)."""
    return (seed + n - 1) % 2**32


def flagged_candidates(obj: StorageObject) -> list[int]:
    """The candidates the output's metadata says were flagged; none for metadata that breaks
    the contract (deliver_image has said so loudly already)."""
    try:
        return list(OutputMetadata.from_metadata(obj.metadata).flagged)
    except ContractError:
        return []


def deliver_set_member(
    job: Job, obj: StorageObject, claimant: str, rt: Services, *, context: dict[str, Any]
) -> bool:
    """One picture of a set is drawn: recorded on its job, and the set goes out if it was the
    last one the set waited for."""
    if job.state in FINAL:
        log.info("set member already closed", extra=context)
        return False
    if job.output_name != obj.name:
        rt.jobs.set_job_fields(job.job_id, output_name=obj.name, output_type=obj.content_type)
    return deliver_set(str(job.set_id), claimant, rt, context=context)


def deliver_set(set_id: str, claimant: str, rt: Services, *, context: dict[str, Any]) -> bool:
    """Send a set once every job of it is drawn or closed: its pictures as one album (one photo
    if only one is left), then one message with the per-style buttons, which albums cannot
    carry, and a note on each style that was flagged or failed. True when this call sent it.

    JobStore.claim_set, one transaction over the set and its jobs, lets exactly one of the
    events that arrive together send it; it raises DeliveryPending while another attempt
    holds it. A failed send releases the claim and raises, so the event is delivered again."""
    jobs = rt.jobs.claim_set(set_id, claimant, rt.now(), DELIVERY_LEASE)
    if jobs is None:
        log.info("set not complete, or delivered already", extra=context)
        return False
    ready = [job for job in jobs if job.state not in FINAL and job.output_name]
    try:
        messages = send_set(jobs, ready, rt)
    except TelegramError as error:
        if not error.user_unreachable:
            rt.jobs.finish_set(set_id, delivered=False)
            raise
        for job in ready:
            rt.jobs.move_job(job.job_id, State.FAILED, rt.now(), reason=UNREACHABLE, error=str(error))
        rt.jobs.finish_set(set_id, delivered=True)
        log.warning("user unreachable; set closed without an album", extra={**context, "error": str(error)})
        return False
    except Exception:
        rt.jobs.finish_set(set_id, delivered=False)
        raise
    for job, message in zip(ready, messages, strict=True):
        file_id = message["photo"][-1]["file_id"] if message.get("photo") else None
        delivered = rt.jobs.move_job(
            job.job_id,
            State.DELIVERED,
            rt.now(),
            photo_file_id=file_id,
            delivered_message_id=message["message_id"],
        )
        if delivered is not None:
            remember_quietly(delivered, rt)
    rt.jobs.finish_set(set_id, delivered=True)
    for job in jobs:
        remove_status(job, rt)
    log.info("set delivered", extra={**context, "reason": f"{len(ready)} of {len(jobs)}"})
    return True


def send_set(jobs: list[Job], ready: list[Job], rt: Services) -> list[dict[str, Any]]:
    """The album (or the one photo), then the buttons message; the album's messages, in order."""
    first = jobs[0]
    photos = [
        (
            str(job.output_name).rsplit("/", 1)[-1],
            rt.download(rt.settings.images_bucket, str(job.output_name)),
            job.output_type or "application/octet-stream",
            photo_caption(job),
        )
        for job in ready
    ]
    to = AnswerTo.of_job(first)
    messages: list[dict[str, Any]] = []
    if len(photos) > 1:
        messages = rt.bot.send_media_group(to, photos)
    elif photos:
        name, data, content_type, caption = photos[0]
        messages = [rt.bot.send_photo(to, (name, data, content_type), caption=caption)]
    closed = [job for job in jobs if job not in ready]
    rt.bot.send_message(
        to,
        set_text(first, closed, none_left=not ready),
        reply_markup=keyboards.set_actions(
            [(job.job_id, job.drawing()[1]) for job in ready],
            [(job.job_id, job.drawing()[1], job.reason == FLAGGED) for job in closed],
            first.language,
        ),
    )
    return messages


def set_text(first: Job, closed: list[Job], *, none_left: bool) -> str:
    language = first.language
    prompt, _, seed = first.drawing()
    text = texts.render(language, "set_header", seed=seed, prompt=texts.shorten(prompt, 700))
    for job in closed:
        key = "set_missing_flagged" if job.reason == FLAGGED else "set_missing_failed"
        text += texts.render(language, key, style=label(job.drawing()[1]))
    if none_left:
        text += texts.render(language, "set_none")
    return text + ledger.credits_back_text(language, sum(map(ledger.credits_given_back, closed)))


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
