"""Jobs come into being here: from a prompt, a user's photo, a style chosen for either, or a
button under a picture."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from google.api_core.exceptions import NotFound

from imagebot.core import keyboards, texts
from imagebot.core.albums import Seat
from imagebot.core.answer_to import AnswerTo
from imagebot.core.jobs import Job, State, job_id_for_update, seed_for, seed_for_prompt
from imagebot.core.ops import Mode
from imagebot.core.photos import PhotoRefusal
from imagebot.core.quota import job_cost
from imagebot.core.updates import Button, Photo, Prompt
from imagebot.core.validation import PromptRejected, Request, validate_request
from imagebot.core.vocabulary import CANDIDATE_COUNTS
from imagebot.edges.store import Doc
from imagebot.edges.telegram import TelegramError
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps import delivery, user_photo

log = logging.getLogger(__name__)
QUESTION_PROMPT_CHARS = 200
# What the model reads for a photo sent without a caption: the picture itself says the rest,
# and the style's template adds the style's words.
PHOTO_PROMPT = "a picture"
PHOTO_FETCH_FAILED = "photo_fetch_failed"  # the reason (and text) when Telegram will not give the file


def received(event: Prompt | Photo, user: dict[str, object]) -> Job:
    """The job an update makes, as received: the state `start` or `refuse` moves it from
    before it is created."""
    language = user.get("language")
    return Job(
        job_id=job_id_for_update(event.update_id),
        state=State.RECEIVED,
        update_id=event.update_id,
        chat_id=event.chat_id,
        user_id=event.user_id,
        message_id=event.message_id,
        message_thread_id=event.message_thread_id,
        language=texts.user_language(language if isinstance(language, str) else None, event.language_code),
        times={State.RECEIVED.value: datetime.fromtimestamp(event.received_at, UTC)},
    )


def handle_prompt(event: Prompt, rt: Services) -> None:
    user = rt.users.get_user(event.user_id)
    job = received(event, user)
    job_id = job.job_id
    try:
        request = validate_request(event.text, rt.settings.prompt_min_chars, rt.settings.prompt_max_chars)
    except PromptRejected as rejected:
        refuse(job, rejected, rt)
        return
    style = event.style or user.get("default_style")
    candidates = grid_setting(user)
    job = replace(worded(job, request, user, style), candidates=candidates, cost=job_cost(candidates))
    try:
        # Enhanced for its style: now, or once the style is chosen (a job still waiting for its
        # style is translated now and enhanced when the style is known).
        drawn = model_prompt(request.prompt, job_id, rt, enhance=bool(job.enhance and style), style=style)
    except PromptRejected as rejected:  # the translation model judged the prompt unsafe
        refuse(job, rejected, rt)
        return
    start(replace(job, model_prompt=drawn), rt)


def handle_photo(event: Photo, rt: Services) -> None:
    """A photo to draw in a style: checked before anything is charged (its caption as a prompt
    is, then the file itself: core/photos.py), stored as the job's input, and then on as a
    prompt's job goes. A refused file is told, in words, and goes no further."""
    user = rt.users.get_user(event.user_id)
    job = received(event, user)
    if event.media_group_id and not seated_in_album(event, event.media_group_id, job, rt):
        return
    s = rt.settings
    try:
        request = validate_request(event.caption, s.prompt_min_chars, s.prompt_max_chars, words_optional=True)
    except PromptRejected as rejected:
        refuse(job, rejected, rt)
        return
    existing = rt.jobs.get_job(job.job_id)
    if existing is not None:
        # A redelivery: the photo was fetched, checked and stored already. Carried on from
        # where it is, with no second download (the user may have deleted the photo since).
        if existing.state == State.REJECTED and (existing.reason or "").startswith("photo_"):
            tell_photo_refusal(existing, rt)  # refused here: the first telling may not have gone out
        else:
            start(existing, rt)  # a job refused later (the quota, say) stays as it is
        return
    try:
        photo = user_photo.fetch_photo(event.file_id, rt)
    except TelegramError as error:
        if error.transient or error.user_unreachable:
            raise  # tried again by Pub/Sub's redelivery; once those run out, report_failure says sorry
        log.warning(
            "the user's photo could not be fetched",
            extra=fields(stage="validate", job_id=job.job_id, error=str(error)),
        )
        photo = None
    if photo is None or isinstance(photo, PhotoRefusal):
        reason = PHOTO_FETCH_FAILED if photo is None else photo.text_key
        tell_photo_refusal(rt.jobs.create_job(born(job, State.REJECTED, rt, reason=reason)), rt)
        return
    style = event.style or user.get("default_style")
    hint = request.prompt
    job = replace(
        job,
        prompt=hint,
        negative_prompt=request.negative_prompt,
        style=style if isinstance(style, str) else None,
        aspect=photo.aspect,  # the photo's own shape, whatever the user's default
        seed=seed_for_prompt(hint, request.negative_prompt),
    )
    try:  # judged before the photo is stored: a refused hint leaves nothing behind
        drawn = model_prompt(hint, job.job_id, rt, enhance=False, style=None) if hint else PHOTO_PROMPT
    except PromptRejected as rejected:  # the translation model judged the hint unsafe
        refuse(job, rejected, rt)
        return
    job = replace(job, model_prompt=drawn, input_image=rt.inputs.put_input(job.job_id, photo.jpeg))
    log.info(
        "photo taken",
        extra=fields(stage="validate", job_id=job.job_id, reason=f"{photo.source_format} {photo.aspect}"),
    )
    start(job, rt)


def seated_in_album(event: Photo, media_group_id: str, job: Job, rt: Services) -> bool:
    """Whether this photo of an album is one of the first few drawn; the first photo past
    them tells the user (once for the album: core/albums.py), quoting that photo, as its
    job's answers would."""
    limit = rt.settings.album_max_photos
    seat = rt.albums.take_seat(media_group_id, event.update_id, limit, rt.now())
    if seat == Seat.TELL:
        rt.bot.send_message(AnswerTo.of_job(job), texts.render(job.language, "album_limit", limit=limit))
    if seat != Seat.TAKEN:
        log.info(
            "album photo past the limit",
            extra=fields(stage="validate", update_id=event.update_id, reason=seat),
        )
    return seat == Seat.TAKEN


def tell_photo_refusal(job: Job, rt: Services) -> None:
    """Why the photo is not drawn, with the limits it missed; the job is rejected, nothing charged."""
    log.info("photo refused", extra=fields(stage="validate", job_id=job.job_id, reason=job.reason))
    text = texts.render(
        job.language, job.reason or PHOTO_FETCH_FAILED, **rt.settings.photo_limits.text_values()
    )
    rt.bot.send_message(AnswerTo.of_job(job), text)


def worded(job: Job, request: Request, user: Doc, style: str | None) -> Job:
    """The job with a checked prompt's words, in `style` (None: to be asked), at the user's
    size, with the seed its words give, enhanced when the user turned /enhance on."""
    return replace(
        job,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        style=style,
        aspect=user.get("aspect", "square"),
        seed=seed_for_prompt(request.prompt, request.negative_prompt),
        enhance=True if user.get("enhance") else None,
    )


def model_prompt(
    prompt: str, job_id: str, rt: Services, *, enhance: bool, style: str | None, fallback: str | None = None
) -> str:
    """What the GPU draws: the prompt in English (translation.py), enhanced when the user
    turned /enhance on, or `fallback` (a translation made earlier), else the prompt as written,
    when translation is off or the ops mode is not normal (no model calls while money is short)."""
    translator = rt.translator
    if translator is None or rt.config.get_ops().mode != Mode.NORMAL:
        return prompt if fallback is None else fallback
    return translator.model_prompt(prompt, job_id, enhance=enhance, style=style, fallback=fallback)


def enhanced_for(job: Job, style: str, job_id: str, rt: Services) -> str:
    """The model prompt of an /enhance job drawn in `style`: enhanced for that style, from the
    user's words (an enhancement for another style would carry that style's look along)."""
    return model_prompt(job.drawing()[0], job_id, rt, enhance=True, style=style, fallback=job.model_prompt)


def refuse(job: Job, rejected: PromptRejected, rt: Services) -> None:
    refused = rt.jobs.create_job(born(job, State.REJECTED, rt, reason=rejected.reason))
    if refused.set_id:
        # One of a set (an /enhance set's words refused for its style): the set may have been
        # charged for it already, by a job admitted before this one was created. Given back
        # before the set's message, which counts it, can go out.
        rt.payments.return_credits(refused.job_id, rt.now())
    tell_rejected(refused, rejected, rt)


def refuse_validated(job: Job, rejected: PromptRejected, rt: Services) -> None:
    """Refuse a job that already exists (its style was just chosen)."""
    if rt.jobs.move_job(job.job_id, State.REJECTED, rt.now(), reason=rejected.reason) is not None:
        tell_rejected(job, rejected, rt)


def tell_rejected(job: Job, rejected: PromptRejected, rt: Services) -> None:
    log.info("prompt rejected", extra=fields(stage="validate", job_id=job.job_id, reason=rejected.reason))
    text = texts.render(job.language, f"rejected_{rejected.reason}", limit=rejected.limit)
    rt.bot.send_message(AnswerTo.of_job(job), text)


def born(job: Job, state: State, rt: Services, *, reason: str | None = None) -> Job:
    """The job as it is created: in `state`, stamped now."""
    return replace(job, state=state, times={**job.times, state.value: rt.now()}, reason=reason)


def start(job: Job, rt: Services) -> None:
    """Create the job: with a style it goes on to admission, without one the user is asked."""
    state = State.VALIDATED if job.style else State.AWAITING_STYLE
    job = rt.jobs.create_job(born(job, state, rt))  # a redelivery finds the first one
    if job.state == State.VALIDATED:
        publish_validated(job.job_id, rt)
    elif job.state == State.AWAITING_STYLE and not job.status_message_id:
        prompt = job.prompt or ""
        question = (
            texts.render(job.language, "choose_style_photo")
            if job.input_image
            else texts.render(
                job.language, "choose_style", prompt=texts.shorten(prompt, QUESTION_PROMPT_CHARS)
            )
        )
        sent = rt.bot.send_message(
            AnswerTo.of_job(job), question, reply_markup=keyboards.style_question(job.job_id)
        )
        rt.jobs.set_job_fields(job.job_id, status_message_id=sent["message_id"])
        log.info("asked for a style", extra=fields(stage="validate", job_id=job.job_id))


def publish_validated(job_id: str, rt: Services) -> None:
    rt.publisher.publish(rt.settings.validated_topic, job_id.encode(), job_id=job_id)
    log.info("job validated", extra=fields(stage="validate", job_id=job_id))


def choose_style(button: Button, asking: Job, rt: Services) -> None:
    """`asking`: the job as read just before (only its requester may choose its style)."""
    style, job_id = button.args
    context = fields(stage="validate", job_id=job_id, update_id=button.update_id)
    job = rt.jobs.move_job(job_id, State.VALIDATED, rt.now(), style=style, style_update_id=button.update_id)
    if job is None:
        # Either a second press on the same keyboard, or our own first handling of this very
        # press crashed after the move (the job read before it says so): only the latter
        # still needs its publish.
        if asking.style_update_id != button.update_id:
            log.info("style press on a job that already has one", extra=context)
            return
        job = asking
    if job.enhance:
        try:
            rt.jobs.set_job_fields(job_id, model_prompt=enhanced_for(job, style, job_id, rt))
        except PromptRejected as rejected:  # an English prompt meets the model only now
            refuse_validated(job, rejected, rt)
            return
    publish_validated(job_id, rt)


def grid_setting(user: dict[str, object]) -> int:
    """Pictures at a time the user chose in /style: 1, or a 2x2 grid."""
    candidates = user.get("candidates", 1)
    return candidates if candidates in CANDIDATE_COUNTS and isinstance(candidates, int) else 1


def draw_again(button: Button, source: Job, rt: Services) -> None:
    """Again (new seed), another style (new seed), the same seed in another style, or a retry.
    A grid is drawn again as a grid, a variation from the same candidate."""
    if source.prompt is None:  # refused before it had words (a photo's may be "")
        stale(button, rt)
        return
    style = button.args[0] if button.action in ("other", "same") else source.drawing()[1]
    job = follow_up(button, source, rt, style=style, keep_seed=button.action in ("same", "retry"))
    if job.enhance and style != source.style:
        start_enhanced(job, rt)
    else:
        start(job, rt)


def start_enhanced(job: Job, rt: Services) -> None:
    """Start an /enhance job whose words are enhanced anew for its style (enhanced_for): a
    model call, which may refuse them."""
    try:
        job = replace(job, model_prompt=enhanced_for(job, job.drawing()[1], job.job_id, rt))
    except PromptRejected as rejected:
        refuse(job, rejected, rt)
        return
    start(job, rt)


def follow_up(button: Button, source: Job, rt: Services, *, style: str, keep_seed: bool) -> Job:
    """A new job for a button under `source`'s picture: its words, in `style`, with its seed or
    a new one, as many candidates and from the same input (a variation's candidate) as
    `source`. Not yet created."""
    source_id = button.args[-1]
    prompt, _, source_seed = source.drawing()
    job_id = job_id_for_update(button.update_id)
    enhance = bool(source.enhance)
    return Job(
        job_id=job_id,
        state=State.RECEIVED,  # until `start` creates it
        update_id=button.update_id,
        source_job_id=source_id,
        chat_id=source.chat_id,
        user_id=source.user_id,
        message_id=source.message_id,  # the photo answers the original prompt
        message_thread_id=source.message_thread_id,
        language=rt.users.language_of(button.user_id, button.language_code),
        prompt=prompt,
        # Translated once, drawn again; enhanced anew for another style (start_enhanced).
        model_prompt=prompt if source.model_prompt is None else source.model_prompt,
        enhance=enhance,
        negative_prompt=source.negative_prompt,
        aspect=source.aspect,
        style=style,
        seed=source_seed if keep_seed else seed_for(job_id),
        times={State.RECEIVED.value: datetime.fromtimestamp(button.received_at, UTC)},
        candidates=source.candidates,
        cost=job_cost(source.candidates),
        # The same stored photo (kept a few days: no download, the user may have deleted it),
        # or the same candidate for a variation.
        input_image=source.input_image,
        strength=source.strength,
    )


def send_original(button: Button, job: Job, rt: Services) -> None:
    """The delivered picture as a document: Telegram recompresses photos, documents stay intact."""
    if not job.output_name:
        stale(button, rt)
        return
    language = rt.users.language_of(button.user_id, button.language_code)
    to_photo = AnswerTo.of_job(job).quoting(job.delivered_message_id)
    try:
        data = rt.download(rt.settings.images_bucket, job.output_name)
    except NotFound:  # the bucket's lifecycle rule removed it
        rt.bot.send_message(to_photo, texts.render(language, "file_gone"))
        return
    rt.bot.send_document(to_photo, data, filename=job.output_name.rsplit("/", 1)[-1])


def show_drawn_as(button: Button, job: Job, rt: Services) -> None:
    """What the model drew from, in the photo's caption (the user asked)."""
    if not job.delivered_message_id or not job.model_prompt or not delivery.drawn_differently(job):
        stale(button, rt)
        return
    delivery.show_drawn_as(job, job.delivered_message_id, job.model_prompt, rt)


def stale(button: Button, rt: Services) -> None:
    log.info(
        "button on a job that cannot serve it", extra=fields(update_id=button.update_id, reason=button.action)
    )
    language = rt.users.language_of(button.user_id, button.language_code)
    rt.bot.send_message(AnswerTo.of_event(button), texts.render(language, "answer_stale"))
