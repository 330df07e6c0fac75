"""sweep_stuck_jobs: Cloud Scheduler's tick; jobs stuck past their deadline fail.

It catches jobs that stalled without a message to dead-letter (an instance lost
mid-generation with its message acknowledged, say): failed and told as report_failure does.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from imagebot.core.jobs import State
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.failure import fail

log = logging.getLogger(__name__)
STALLED_STATES = (State.QUEUED, State.GENERATING, State.GENERATED)


def sweep(rt: Services) -> int:
    """Fail every job stuck past its deadline in an admitted state; returns how many."""
    deadline = rt.now() - timedelta(seconds=rt.settings.job_deadline_seconds)
    swept = 0
    for job in rt.jobs.jobs_in_states(STALLED_STATES):
        stamped = job.get("times", {}).get(job["state"])
        if stamped is not None and stamped < deadline:
            fail(job["job_id"], f"stuck in {job['state']} past the deadline", rt)
            swept += 1
    log.info("sweep done", extra=fields(stage="sweep", reason=f"{swept} failed"))
    return swept
