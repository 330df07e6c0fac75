"""The work for one generation job, with the clients handed in: skip, or generate and store.

Pub/Sub delivers each message at least once, so this runs safely any number of times for the
same job: the output object is the proof of work done, and the job document only moves forward.
A job the user cancelled is looked at twice: where it would move to generating (before it is
queued for a batch) and once more before anything is written (it may be cancelled while drawn).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

from PIL import Image

from gpu_service.contract import GenerationJob
from gpu_service.images import ImageGenerator
from gpu_service.inputs import open_input
from gpu_service.jobs import JobDocuments, Move
from gpu_service.progress import ProgressReporter, SilentProgress
from gpu_service.refusals import UnsafeOutput
from gpu_service.storage import OutputBucket
from gpu_service.vocabulary import INPUT_MISSING

# The default reporter: one instance, since an argument default is evaluated once anyway.
SILENT = SilentProgress()

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    GENERATED = "generated"
    SKIPPED = "skipped"  # the output already existed: nothing drawn, nothing overwritten
    REJECTED = "rejected"  # the safety checker flagged the picture: a final, told answer
    INPUT_MISSING = "input_missing"  # the job's input object is gone: a final, told answer
    CANCELLED = "cancelled"  # the user cancelled it: nothing drawn or written, nobody told


def utc_now() -> datetime:
    return datetime.now(UTC)


def process_job(
    job: GenerationJob,
    *,
    engine: ImageGenerator,
    outputs: OutputBucket,
    jobs: JobDocuments,
    progress: ProgressReporter = SILENT,
    now: Callable[[], datetime] = utc_now,
) -> Outcome:
    """Raises on any failure to generate or store, so that the message is redelivered
    (refusals.JobRefused for a job that never will succeed). A flagged picture and a missing
    input are no failures: the job is rejected with reason "flagged" or "input_missing" at
    once, the functions are told (they tell the user), and the message can be acknowledged.
    So can a cancelled job's."""
    if outputs.output_exists(job.job_id):
        # Also the repair for a crash between upload and bookkeeping: the redelivery finds the
        # object and records the move that the first delivery did not get to.
        jobs.mark_generated(job.job_id, now())
        log.info("output exists; skipped", extra={"outcome": Outcome.SKIPPED.value})
        return Outcome.SKIPPED
    if jobs.mark_generating(job.job_id, now()) is Move.CANCELLED:
        return _cancelled("before drawing")
    init: Image.Image | None = None
    if job.input_image:
        # Read once, here: the batch and any redraw of a broken picture reuse it.
        data = outputs.read_input(job.input_image)
        if data is None:
            return _rejected(job, INPUT_MISSING, jobs, progress, now, Outcome.INPUT_MISSING)
        init = open_input(data)
    progress.started(job.job_id)
    try:
        image = engine.generate(job, init)
    except UnsafeOutput as refusal:
        if jobs.is_cancelled(job.job_id):
            return _cancelled("while drawing")
        return _rejected(job, refusal.reason, jobs, progress, now, Outcome.REJECTED)
    if jobs.is_cancelled(job.job_id):
        return _cancelled("while drawing")
    written = outputs.upload_output(job, image)
    jobs.mark_generated(job.job_id, now(), seed=image.seed, negative_applied=image.negative_applied)
    outcome = Outcome.GENERATED if written else Outcome.SKIPPED
    log.info(
        "job done",
        extra={
            "outcome": outcome.value,
            "style": job.style,
            "duration_ms": round(image.seconds * 1000),
            "batch_size": image.batch_size,
        },
    )
    return outcome


def _rejected(
    job: GenerationJob,
    reason: str,
    jobs: JobDocuments,
    progress: ProgressReporter,
    now: Callable[[], datetime],
    outcome: Outcome,
) -> Outcome:
    jobs.mark_rejected(job.job_id, reason, now())
    progress.rejected(job.job_id, reason)
    log.warning("job rejected: %s", reason, extra={"outcome": outcome.value, "reason": reason})
    return outcome


def _cancelled(when: str) -> Outcome:
    log.info("job cancelled %s; nothing drawn or written", when, extra={"outcome": Outcome.CANCELLED.value})
    return Outcome.CANCELLED
