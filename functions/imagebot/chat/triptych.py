"""All three styles at once: the same words and seed drawn in every style, delivered as one album.

A set is three jobs (one a style, ids `<set_id>-<style>`) sharing `set_id`, recorded in
`sets/<set_id>` before them: admitted and charged once together (JobStore.admit_job: the first
job admitted charges quota.SET_COST, less any job of it closed already, the others follow its
answer; one refused at its creation gives its share back, chat/creation.refuse), and sent
once, together, when the last of them is drawn or closed (steps/delivery.deliver_set).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime

from imagebot.chat import creation
from imagebot.core import texts
from imagebot.core.answer_to import AnswerTo
from imagebot.core.jobs import Job, State, job_id_for_update, seed_for_prompt
from imagebot.core.updates import Button, Command
from imagebot.core.validation import PromptRejected, validate_request
from imagebot.core.vocabulary import STYLES
from imagebot.logs import fields
from imagebot.ports import Services

log = logging.getLogger(__name__)


def draw_all(command: Command, rt: Services) -> None:
    """/all <prompt>: the prompt checked as any other, then drawn in every style."""
    user = rt.users.get_user(command.user_id)
    language = texts.user_language(user.get("language"), command.language_code)
    if not command.args:
        text = texts.render(language, "shortcut_usage", command=command.name)
        rt.bot.send_message(AnswerTo.of_event(command), text)
        return
    set_id = job_id_for_update(command.update_id)
    base = Job(
        job_id=set_id,
        state=State.RECEIVED,
        update_id=command.update_id,
        chat_id=command.chat_id,
        user_id=command.user_id,
        message_id=command.message_id,
        message_thread_id=command.message_thread_id,
        language=language,
        times={State.RECEIVED.value: datetime.fromtimestamp(command.received_at, UTC)},
    )
    try:
        request = validate_request(command.args, rt.settings.prompt_min_chars, rt.settings.prompt_max_chars)
    except PromptRejected as rejected:
        creation.refuse(base, rejected, rt)
        return
    base = replace(
        base,
        prompt=request.prompt,
        negative_prompt=request.negative_prompt,
        aspect=user.get("aspect", "square"),
        seed=seed_for_prompt(request.prompt, request.negative_prompt),
        enhance=True if user.get("enhance") else None,
    )
    try:  # translated once for the three (and enhanced per style in start_set)
        translated = creation.model_prompt(request.prompt, set_id, rt, enhance=False, style=None)
    except PromptRejected as rejected:  # the translation model judged the prompt unsafe
        creation.refuse(base, rejected, rt)
        return
    start_set(replace(base, model_prompt=translated), set_id, rt)


def draw_all_styles(button: Button, source: Job, rt: Services) -> None:
    """🎨 under a photo: its words and seed in every style."""
    if not source.prompt or not source.style:
        creation.stale(button, rt)
        return
    set_id = job_id_for_update(button.update_id)
    base = creation.follow_up(button, source, rt, style=source.drawing()[1], keep_seed=True)
    # One picture a style, from the words alone (a set is not a grid, nor a variation).
    start_set(replace(base, candidates=1, cost=1, input_image=None, strength=None), set_id, rt)


def start_set(base: Job, set_id: str, rt: Services) -> None:
    """The set recorded, then one job a style: each validated and sent on like any job (an
    /enhance job's words enhanced for its style first, which may refuse that one)."""
    job_ids = [f"{set_id}-{style}" for style in STYLES]
    rt.jobs.create_set(set_id, job_ids, rt.now())
    for style, job_id in zip(STYLES, job_ids, strict=True):
        job = replace(base, job_id=job_id, style=style, set_id=set_id)
        if job.enhance:
            creation.start_enhanced(job, rt)
        else:
            creation.start(job, rt)
    log.info("set of all styles started", extra=fields(job_id=set_id))
