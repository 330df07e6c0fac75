"""The 2x2 choice: four of a picture (🔲), one candidate alone (⬆n), four variations of one (🔀n).

A grid is one job with GRID_SIZE candidates, drawn in one batch and charged once
(quota.GRID_COST); its candidates stay in the bucket (`candidates/<job_id>/<n>.<ext>`), so ⬆n
sends one of them again without the GPU or the quota, and 🔀n draws from one of them.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from google.api_core.exceptions import NotFound

from imagebot.chat import creation
from imagebot.core import texts
from imagebot.core.answer_to import AnswerTo
from imagebot.core.contract import candidate_object_name
from imagebot.core.events import StorageObject
from imagebot.core.jobs import Job, State, job_id_for_update
from imagebot.core.quota import job_cost
from imagebot.core.updates import Button
from imagebot.core.vocabulary import GRID_SIZE
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.delivery import candidate_seed, deliver_output

log = logging.getLogger(__name__)
# img2img from a candidate at this strength keeps its composition and colours and redraws its
# details: four pictures close to the one chosen, not four new ones (the styles' own strengths
# for a user's photo are higher: there the photo is a sketch to restyle).
VARIATION_STRENGTH = 0.35
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp"}


def draw_grid(button: Button, source: Job, rt: Services) -> None:
    """🔲 under a photo: four candidates of the same words and style, new seeds."""
    if not source.prompt or not source.style:
        creation.stale(button, rt)
        return
    job = creation.follow_up(button, source, rt, style=source.drawing()[1], keep_seed=False)
    creation.start(replace(job, candidates=GRID_SIZE, cost=job_cost(GRID_SIZE)), rt)


def send_candidate(button: Button, grid: Job, rt: Services) -> None:
    """⬆n: candidate n alone, at full size, with the usual buttons; a job of its own that is
    born drawn, so Again, the file and the other styles work under it as under any photo."""
    name = candidate_name(button, grid, rt)
    if name is None:
        return
    n = int(button.args[0])
    prompt, style, seed = grid.drawing()
    job = Job(
        job_id=job_id_for_update(button.update_id),
        state=State.GENERATED,
        update_id=button.update_id,
        source_job_id=grid.job_id,
        chat_id=grid.chat_id,
        user_id=grid.user_id,
        message_id=grid.message_id,
        message_thread_id=grid.message_thread_id,
        language=rt.users.language_of(button.user_id, button.language_code),
        prompt=prompt,
        model_prompt=grid.model_prompt,
        enhance=grid.enhance,
        negative_prompt=grid.negative_prompt,
        negative_applied=grid.negative_applied,
        aspect=grid.aspect,
        style=style,
        seed=candidate_seed(seed, n),
        cost=0,  # drawn and paid for with the grid
        output_name=name,
        times={State.GENERATED.value: rt.now()},
    )
    rt.jobs.create_job(job)  # a redelivered press finds it, and its claim says whether it went out
    obj = StorageObject(rt.settings.images_bucket, name, "", CONTENT_TYPES[name.rsplit(".", 1)[-1]], {})
    try:
        deliver_output(job.job_id, obj, f"up-{button.update_id}", rt, context=fields(job_id=job.job_id))
    except NotFound:  # the bucket's lifecycle rule removed the candidates
        rt.jobs.move_job(job.job_id, State.FAILED, rt.now(), reason="candidate_gone")
        rt.bot.send_message(AnswerTo.of_event(button), texts.render(job.language, "file_gone"))


def draw_variations(button: Button, grid: Job, rt: Services) -> None:
    """🔀n: a new grid drawn from candidate n at VARIATION_STRENGTH, which says which it varies."""
    name = candidate_name(button, grid, rt)
    if name is None:
        return
    job = creation.follow_up(button, grid, rt, style=grid.drawing()[1], keep_seed=False)
    creation.start(replace(job, input_image=name, strength=VARIATION_STRENGTH), rt)


def candidate_name(button: Button, grid: Job, rt: Services) -> str | None:
    """The object of candidate n of a delivered grid; None, and the user told, when there is
    none to use (not a grid, not delivered, or that candidate flagged)."""
    n = int(button.args[0])
    if grid.candidates != GRID_SIZE or not grid.output_name or grid.state != State.DELIVERED:
        creation.stale(button, rt)
        return None
    if n in (grid.flagged or ()):
        language = rt.users.language_of(button.user_id, button.language_code)
        rt.bot.send_message(AnswerTo.of_event(button), texts.render(language, "candidate_flagged", n=n))
        return None
    log.info("candidate chosen", extra=fields(job_id=grid.job_id, reason=f"{button.action} {n}"))
    return candidate_object_name(grid.job_id, n, grid.output_name.rsplit(".", 1)[-1])
