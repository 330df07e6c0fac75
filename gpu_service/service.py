"""The work for one generation job, with the clients handed in: skip, or generate and store.

Pub/Sub delivers each message at least once, so this runs safely any number of times for the
same job: the output object is the proof of work done, and the job document only moves forward.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

from gpu_service.contract import GenerationJob
from gpu_service.images import ImageGenerator
from gpu_service.jobs import JobDocuments
from gpu_service.progress import ProgressReporter, SilentProgress
from gpu_service.refusals import UnsafeOutput
from gpu_service.storage import OutputBucket

# The default reporter: one instance, since an argument default is evaluated once anyway.
SILENT = SilentProgress()

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    GENERATED = "generated"
    SKIPPED = "skipped"  # the output already existed: nothing drawn, nothing overwritten
    REJECTED = "rejected"  # the safety checker flagged the picture: a final, told answer


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
    (refusals.JobRefused for a job that never will succeed). A flagged picture is no failure:
    the job is rejected with reason "flagged" at once, the functions are told (they tell the
    user), and the message can be acknowledged."""
    if outputs.output_exists(job.job_id):
        # Also the repair for a crash between upload and bookkeeping: the redelivery finds the
        # object and records the move that the first delivery did not get to.
        jobs.mark_generated(job.job_id, now())
        log.info("output exists; skipped", extra={"outcome": Outcome.SKIPPED.value})
        return Outcome.SKIPPED
    jobs.mark_generating(job.job_id, now())
    progress.started(job.job_id)
    try:
        image = engine.generate(job)
    except UnsafeOutput as refusal:
        jobs.mark_rejected(job.job_id, refusal.reason, now())
        progress.rejected(job.job_id, refusal.reason)
        log.warning("job rejected: %s", refusal.reason, extra={"outcome": Outcome.REJECTED.value})
        return Outcome.REJECTED
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
