"""Inline mode: `@bot <prompt>` in any chat is answered at once (in the webhook's reply) with the
user's matching pictures and a "draw" result per style; choosing one starts a job as a prompt
in a chat does (validation, translation, quota), and its picture replaces the placed message.

Telegram takes no new upload for an inline message, only a file_id or an HTTP URL: the picture
goes first to the user's private chat with the bot (steps/delivery.py), which gives its file_id
and keeps it with its buttons and in /history; the placeholder then becomes that photo."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from imagebot.chat import creation
from imagebot.core import inline, texts
from imagebot.core.jobs import Job, State, cache_key, job_id_for_update, seed_for_prompt
from imagebot.core.ops import generation_mode
from imagebot.core.updates import ChosenInline, InlineQuery
from imagebot.core.validation import PromptRejected, Request, validate_request
from imagebot.core.vocabulary import STYLES
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.status import show_status

log = logging.getLogger(__name__)


def answer_query(query: InlineQuery, rt: Services) -> dict[str, Any]:
    """The answerInlineQuery call for the webhook's reply: two document reads (the user, the ops
    mode) and one per style in the prompt cache."""
    user = rt.users.get_user(query.user_id)
    language = texts.user_language(user.get("language"), query.language_code)
    pictures = inline.history_pictures(user.get("history") or [], query.query)
    request = inline.drawable(query.query, rt.settings.prompt_min_chars, rt.settings.prompt_max_chars)
    if request is not None:
        pictures += cached_pictures(request, user.get("aspect", "square"), rt)
    return inline.answer(query.inline_query_id, query.query if request else None, language, pictures)


def cached_pictures(request: Request, aspect: str, rt: Services) -> list[inline.Picture]:
    """Pictures drawn before of these very words, in each style, by anyone: the prompt cache
    (a first request's seed comes from its words, so they are the picture a draw would give).
    Keyed by the words as written: a translated prompt's picture is found by its chat's job."""
    prompt, negative = request.prompt, request.negative_prompt
    mode = generation_mode(rt.config.get_ops().mode)
    found: list[inline.Picture] = []
    for style in STYLES:
        probe = Job(
            job_id="inline",
            state=State.VALIDATED,
            prompt=prompt,
            negative_prompt=negative,
            style=style,
            aspect=aspect,
            seed=seed_for_prompt(prompt, negative),
        )
        file_id = rt.cache.cached_photo(cache_key(probe, mode))
        if file_id:
            found.append(inline.Picture(f"c:{style}", file_id, style, prompt))
    return found


def start_job(event: ChosenInline, rt: Services) -> None:
    """A chosen "draw" result: a job like a chat prompt's, whose status and picture go to the
    placed message. A chosen picture from history needs nothing more."""
    style = inline.style_to_draw(event.result_id)
    if style is None or not event.inline_message_id:
        context = fields(stage="validate", update_id=event.update_id, reason=event.result_id)
        log.info("chosen inline result needs no job", extra=context)
        return
    user = rt.users.get_user(event.user_id)
    job = Job(
        job_id=job_id_for_update(event.update_id),
        state=State.RECEIVED,
        update_id=event.update_id,
        chat_id=event.user_id,  # the private chat with the bot: where the photo gets its file_id
        message_thread_id=None,  # a private chat has no topics
        user_id=event.user_id,
        inline_message_id=event.inline_message_id,
        language=texts.user_language(user.get("language"), event.language_code),
        times={State.RECEIVED.value: datetime.fromtimestamp(event.received_at, UTC)},
    )
    try:
        request = validate_request(event.query, rt.settings.prompt_min_chars, rt.settings.prompt_max_chars)
    except PromptRejected as rejected:
        refuse(replace(job, prompt=event.query), rejected, rt)
        return
    job = creation.worded(job, request, user, style)
    try:
        drawn = creation.model_prompt(request.prompt, job.job_id, rt, enhance=bool(job.enhance), style=style)
    except PromptRejected as rejected:  # the translation model judged the prompt unsafe
        refuse(job, rejected, rt)
        return
    creation.start(replace(job, model_prompt=drawn), rt)


def refuse(job: Job, rejected: PromptRejected, rt: Services) -> None:
    """The refusal is told in the placed message, where the user is looking, not in the
    private chat (creation.refuse)."""
    refused = rt.jobs.create_job(creation.born(job, State.REJECTED, rt, reason=rejected.reason))
    log.info(
        "inline prompt rejected",
        extra=fields(stage="validate", job_id=refused.job_id, reason=rejected.reason),
    )
    text = texts.render(refused.language, f"rejected_{rejected.reason}", limit=rejected.limit)
    show_status(refused, text, rt)
