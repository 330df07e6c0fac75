"""Jobs as validate_prompt leaves them, for starting a test mid-pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from imagebot.core.jobs import Job, State, seed_for
from imagebot.runtime import Runtime


def put_job(rt: Runtime, job_id: str, chat_id: int, state: State, **fields: Any) -> Job:
    job = job_in(job_id, chat_id, state, **fields)
    rt.db.collection("jobs").document(job_id).set(job.to_doc())
    return job


def job_doc(job_id: str, chat_id: int, state: State, **fields: Any) -> dict[str, Any]:
    """The document of job_in's job."""
    return job_in(job_id, chat_id, state, **fields).to_doc()


def job_in(job_id: str, chat_id: int, state: State, *, now: datetime | None = None, **fields: Any) -> Job:
    """A job in `state`, as the pipeline leaves it there."""
    now = now or datetime.now(UTC)
    defaults: dict[str, Any] = {
        "update_id": 0,
        "user_id": chat_id,
        "message_id": 1,
        "language": "en",
        "prompt": "a paper boat on a pond",
        "style": "ghibli",
        "seed": seed_for(job_id),
        "times": {"received": now, state.value: now},
    }
    return Job(job_id=job_id, state=state, chat_id=chat_id, **{**defaults, **fields})
