"""Job documents as validate_prompt leaves them, for starting a test mid-pipeline."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from imagebot.core.jobs import State, seed_for
from imagebot.runtime import Runtime


def put_job(rt: Runtime, job_id: str, chat_id: int, state: State, **fields: Any) -> dict[str, Any]:
    job = job_doc(job_id, chat_id, state, **fields)
    rt.db.collection("jobs").document(job_id).set(job)
    return job


def job_doc(
    job_id: str, chat_id: int, state: State, *, now: datetime | None = None, **fields: Any
) -> dict[str, Any]:
    """A job document in `state`, as the pipeline leaves it there."""
    now = now or datetime.now(UTC)
    return {
        "job_id": job_id,
        "update_id": 0,
        "chat_id": chat_id,
        "user_id": chat_id,
        "message_id": 1,
        "language": "en",
        "prompt": "a paper boat on a pond",
        "style": "ghibli",
        "seed": seed_for(job_id),
        "state": state.value,
        "times": {"received": now, state.value: now},
        **fields,
    }
