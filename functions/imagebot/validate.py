"""validate_prompt: dedupe the update, check the prompt, resolve the style, create the job."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from imagebot import texts
from imagebot.events import BadEvent, pubsub_data
from imagebot.jobs import State, job_id_for_update, seed_for
from imagebot.keyboards import style_keyboard
from imagebot.logs import fields
from imagebot.runtime import Runtime
from imagebot.updates import MalformedUpdate, Prompt, StyleChosen, decode_event
from imagebot.validation import PromptRejected, validate_prompt

log = logging.getLogger(__name__)
STYLE_QUESTION_PROMPT_CHARS = 200


def handle_message(data: Any, rt: Runtime) -> None:
    """Entry from a Pub/Sub CloudEvent. Undecodable messages are logged and acknowledged:
    no retry can mend them. Anything else that fails raises, and Pub/Sub redelivers."""
    try:
        event = decode_event(pubsub_data(data))
    except (BadEvent, MalformedUpdate) as error:
        log.error("dropping an undecodable inbound message", extra=fields(stage="validate", error=str(error)))
        return
    if not rt.store.begin_update(event.update_id, rt.now()):
        log.info("duplicate update", extra=fields(stage="validate", update_id=event.update_id))
        return
    if isinstance(event, Prompt):
        handle_prompt(event, rt)
    else:
        handle_style_choice(event, rt)
    rt.store.finish_update(event.update_id)


def handle_prompt(event: Prompt, rt: Runtime) -> None:
    now = rt.now()
    job_id = job_id_for_update(event.update_id)
    user = rt.store.get_user(event.user_id)
    language = user.get("language") or texts.language_for(event.language_code)
    job: dict[str, Any] = {
        "job_id": job_id,
        "update_id": event.update_id,
        "chat_id": event.chat_id,
        "user_id": event.user_id,
        "message_id": event.message_id,
        "language": language,
        "times": {State.RECEIVED.value: datetime.fromtimestamp(event.received_at, UTC)},
    }
    context = fields(stage="validate", job_id=job_id, update_id=event.update_id)
    try:
        prompt = validate_prompt(event.text, rt.settings.prompt_min_chars, rt.settings.prompt_max_chars)
    except PromptRejected as rejected:
        job.update(state=State.REJECTED.value, reason=rejected.reason)
        job["times"][State.REJECTED.value] = now
        rt.store.create_job(job_id, job)
        log.info("prompt rejected", extra={**context, "reason": rejected.reason})
        text = texts.render(language, f"rejected_{rejected.reason}", limit=rejected.limit)
        rt.bot.send_message(event.chat_id, text, reply_to_message_id=event.message_id)
        return

    style = user.get("default_style")
    state = State.VALIDATED if style else State.AWAITING_STYLE
    job.update(state=state.value, prompt=prompt, style=style, seed=seed_for(job_id))
    job["times"][state.value] = now
    job = rt.store.create_job(job_id, job)

    if job["state"] == State.VALIDATED:
        publish_validated(job_id, rt)
    elif job["state"] == State.AWAITING_STYLE and not job.get("status_message_id"):
        question = texts.render(
            language, "choose_style", prompt=texts.shorten(prompt, STYLE_QUESTION_PROMPT_CHARS)
        )
        sent = rt.bot.send_message(
            event.chat_id, question, reply_markup=style_keyboard(job_id), reply_to_message_id=event.message_id
        )
        rt.store.set_job_fields(job_id, status_message_id=sent["message_id"])
        log.info("asked for a style", extra=context)


def handle_style_choice(event: StyleChosen, rt: Runtime) -> None:
    context = fields(stage="validate", job_id=event.job_id, update_id=event.update_id)
    job = rt.store.move_job(
        event.job_id, State.VALIDATED, rt.now(), style=event.style, style_update_id=event.update_id
    )
    if job is None:
        # Either a second press on the same keyboard, or our own first handling of this very
        # press crashed after the move: only the latter still needs its publish.
        job = rt.store.get_job(event.job_id)
        if job is None or job.get("style_update_id") != event.update_id:
            log.info("style press on a job that already has one", extra=context)
            return
    publish_validated(event.job_id, rt)


def publish_validated(job_id: str, rt: Runtime) -> None:
    rt.publisher.publish(rt.settings.validated_topic, job_id.encode(), job_id=job_id)
    log.info("job validated", extra=fields(stage="validate", job_id=job_id))
