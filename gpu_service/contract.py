"""The versioned contract between the functions and the GPU service (the GPU service's side).

The functions keep their own side (functions/imagebot/core/contract.py), on the same vocabulary
(vocabulary.py, generated from common/vocabulary.py); tests/contract/ builds with one side and
reads with the other. The GPU service reads generation jobs, writes the output
object `outputs/<job_id>.<ext>` (ext: png for pixel art, jpg or webp for the others; the
object's contentType says which) with the metadata below, and moves the job document from
queued to generating to generated (stamping `times.generating` and `times.generated`, and
setting `seed`, the seed the picture was drawn with, and `negative_applied`, whether the job's
negative prompt was), never backwards. A picture the safety checker flags moves the job to
rejected with reason "flagged" instead, and a progress event with state "rejected" tells the
functions to tell the user. A job has at most one output object, whatever its extension.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields

from gpu_service.vocabulary import (
    ASPECTS,
    CONTRACT_VERSION,
    GENERATING,
    JOB_ID_PATTERN,
    MODES,
    OUTPUT_EXTENSIONS,
    OUTPUT_PREFIX,
    PROGRESS_STATES,
    STYLES,
)

_JOB_ID = re.compile(f"^{JOB_ID_PATTERN}$")


class ContractError(ValueError):
    """A job that does not follow the contract: refused with 400, so Pub/Sub dead-letters it
    after its retries and the failure reaches the user instead of vanishing."""


@dataclass(frozen=True)
class GenerationJob:
    job_id: str
    chat_id: int
    prompt: str
    style: str
    seed: int
    negative_prompt: str = ""
    aspect: str = "square"
    mode: str = "normal"
    version: int = CONTRACT_VERSION

    @classmethod
    def from_json(cls, body: bytes) -> GenerationJob:
        try:
            raw = json.loads(body)
            known = {f.name for f in fields(cls)}
            # Newer optional fields from a newer sender are ignored, not fatal.
            job = cls(**{key: value for key, value in raw.items() if key in known})
        except (ValueError, TypeError, AttributeError) as error:
            raise ContractError(f"not a generation job: {error}") from error
        job.check()
        return job

    def check(self) -> None:
        if self.version != CONTRACT_VERSION:
            raise ContractError(f"unsupported contract version {self.version}")
        if not isinstance(self.job_id, str) or not _JOB_ID.match(self.job_id):
            raise ContractError(f"bad job_id {self.job_id!r}")
        if self.style not in STYLES or self.aspect not in ASPECTS or self.mode not in MODES:
            raise ContractError(f"unknown style/aspect/mode {self.style!r}/{self.aspect!r}/{self.mode!r}")
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ContractError("empty prompt")
        if not isinstance(self.seed, int) or not 0 <= self.seed < 2**32:
            raise ContractError(f"seed out of range: {self.seed!r}")
        if not isinstance(self.chat_id, int):
            raise ContractError(f"bad chat_id {self.chat_id!r}")


def output_object_name(job_id: str, extension: str) -> str:
    if extension not in OUTPUT_EXTENSIONS:
        raise ValueError(f"output extension must be one of {OUTPUT_EXTENSIONS}, not {extension!r}")
    return f"{OUTPUT_PREFIX}{job_id}.{extension}"


def output_object_names(job_id: str) -> list[str]:
    """Every name the job's output may have: a redelivery must find it whatever the encoding
    was (a deployment in between may have changed a style's encoding)."""
    return [output_object_name(job_id, extension) for extension in OUTPUT_EXTENSIONS]


def progress_event(job_id: str, state: str = GENERATING, reason: str | None = None) -> bytes:
    """The body of a progress message: this job is being drawn now, or was rejected (with its
    reason) and its user must hear of it."""
    if state not in PROGRESS_STATES:
        raise ValueError(f"progress state must be one of {PROGRESS_STATES}, not {state!r}")
    body: dict[str, object] = {"version": CONTRACT_VERSION, "job_id": job_id, "state": state}
    if reason is not None:
        body["reason"] = reason
    return json.dumps(body).encode()


def output_metadata(job: GenerationJob, width: int, height: int) -> dict[str, str]:
    """Custom metadata for the output object: everything delivery needs, as strings."""
    return {
        "contract": str(CONTRACT_VERSION),
        "job_id": job.job_id,
        "chat_id": str(job.chat_id),
        "style": job.style,
        "seed": str(job.seed),
        "width": str(width),
        "height": str(height),
    }
