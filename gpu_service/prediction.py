"""Vertex AI's custom-container prediction contract, for generation jobs (pure).

Vertex AI posts `{"instances": [...], "parameters": {...}}` to AIP_PREDICT_ROUTE and expects
`{"predictions": [...]}`, one prediction per instance, in order. Here an instance is a
generation job (the contract's GenerationJob fields, as the Pub/Sub message carries them) and
its prediction says what became of it:

    {"job_id": "...", "outcome": "generated" | "skipped", "object": "outputs/<job_id>.<ext>"}
        (skipped: the output existed already, or the job was cancelled: then "object" is null)
    {"job_id": "...", "error": "<reason>", "retryable": true | false}

The picture itself is not in the prediction: it lands in the images bucket exactly as a
Pub/Sub delivery leaves it, so delivery (the object.finalized event) does not know which route
drew it. A bad instance fails alone; the request as a whole fails (400) only when it is not a
prediction request at all. `parameters` is accepted and ignored: a job carries everything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gpu_service.contract import ContractError, GenerationJob

# Vertex AI caps a request at 1.5 MB; a job is under 1 KiB, and a request carries a handful
# (the caller's batch). A bound keeps one request from holding every server thread.
MAX_INSTANCES = 32


class BadPredictRequest(ValueError):
    """Not a prediction request: answered 400 as a whole."""


@dataclass(frozen=True)
class Instance:
    """One instance: its job, or why it is not one (answered in its own prediction)."""

    job: GenerationJob | None
    job_id: str | None
    problem: str | None = None


def parse_request(body: bytes) -> list[Instance]:
    try:
        raw = json.loads(body)
    except ValueError as error:
        raise BadPredictRequest(f"not JSON: {error}") from error
    if not isinstance(raw, dict) or not isinstance(raw.get("instances"), list):
        raise BadPredictRequest('no "instances" list')
    instances = raw["instances"]
    if not instances:
        raise BadPredictRequest("no instances")
    if len(instances) > MAX_INSTANCES:
        raise BadPredictRequest(f"{len(instances)} instances; at most {MAX_INSTANCES} per request")
    return [_instance(item) for item in instances]


# Whole-number fields of a job. An instance sent through the Vertex AI SDK is a protobuf Value,
# whose numbers are doubles: a seed of 7 may arrive as 7.0.
_WHOLE_NUMBERS = ("chat_id", "seed", "version", "candidates")


def _instance(item: Any) -> Instance:
    job_id = item.get("job_id") if isinstance(item, dict) else None
    job_id = job_id if isinstance(job_id, str) else None
    if isinstance(item, dict):
        item = {
            key: int(value)
            if key in _WHOLE_NUMBERS and isinstance(value, float) and value.is_integer()
            else value
            for key, value in item.items()
        }
    try:
        # The same parser as the Pub/Sub route: one definition of a valid job.
        job = GenerationJob.from_json(json.dumps(item).encode())
    except ContractError as error:
        return Instance(job=None, job_id=job_id, problem=str(error))
    return Instance(job=job, job_id=job.job_id)


def done(job_id: str, outcome: str, object_name: str | None) -> dict[str, Any]:
    return {"job_id": job_id, "outcome": outcome, "object": object_name}


def failed(job_id: str | None, reason: str, *, retryable: bool) -> dict[str, Any]:
    # retryable: a later request with the same job may succeed (the output check makes a
    # retry safe); not retryable: the job is off contract or refused, and always will be.
    return {"job_id": job_id, "error": reason, "retryable": retryable}


def response_body(predictions: list[dict[str, Any]]) -> dict[str, Any]:
    return {"predictions": predictions}
