"""The versioned contract between the functions and the GPU service (the GPU service's side).

The functions keep their own side (functions/imagebot/core/contract.py), on the same vocabulary
(vocabulary.py, generated from common/vocabulary.py); tests/contract/ builds with one side and
reads with the other.

- The generation job (version 2; version 1, a text job of one picture, is still read: rolling
  deploys). `input_image`, when set, names the object it starts from (img2img): the user's
  photo `inputs/<job_id>.jpg`, or candidate `candidates/<job_id>/<n>.<ext>` of another job (a
  variation); `strength` (0 < strength <= 1, only with an input) overrides the style's own.
  `candidates` is 1, or GRID_SIZE: that many pictures drawn in one batch with seeds seed,
  seed + 1, ... (mod 2**32), shown as one 2x2 collage.
- The output object `outputs/<job_id>.<ext>` (ext: png for pixel art, jpg or webp for the
  others; the object's contentType says which), with the metadata below; a job has at most one,
  whatever its extension. A grid job first writes each candidate as
  `candidates/<job_id>/<n>.<ext>` (metadata with its own `candidate` number and seed) and the
  collage output last, so whoever the output's finalize event wakes finds every candidate. A
  candidate the safety checker flags is not written: its tile in the collage is blank and the
  output's `flagged` metadata lists it ("2,4"); a grid with all candidates flagged is rejected
  as a flagged single picture is.
- The job document: moved queued → generating → generated (stamping `times.generating` and
  `times.generated`, and setting `seed`, the seed the picture was drawn with, and
  `negative_applied`, whether the job's negative prompt was), never backwards. A job whose
  picture is flagged, or whose input object is gone, moves to rejected with reason "flagged"
  or "input_missing" instead, and a progress event in state "rejected" tells the functions to
  tell the user. A job the functions set to "cancelled" is never drawn, moved or written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields

from gpu_service.vocabulary import (
    ACCEPTED_VERSIONS,
    ASPECTS,
    CANDIDATE_COUNTS,
    CANDIDATE_NAME_PATTERN,
    CANDIDATE_PREFIX,
    CONTRACT_VERSION,
    GENERATING,
    GRID_SIZE,
    INPUT_EXTENSION,
    INPUT_NAME_PATTERN,
    INPUT_PREFIX,
    JOB_ID_PATTERN,
    MODES,
    OUTPUT_EXTENSIONS,
    OUTPUT_PREFIX,
    PROGRESS_STATES,
    REJECT_REASONS,
    REJECTED,
    STYLES,
)

_JOB_ID = re.compile(JOB_ID_PATTERN)
_INPUT_NAME = re.compile(INPUT_NAME_PATTERN)
_CANDIDATE_NAME = re.compile(CANDIDATE_NAME_PATTERN)


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
    input_image: str = ""  # "" = text to image
    strength: float | None = None  # None = the style's own (styles.py)
    candidates: int = 1

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
        if self.version not in ACCEPTED_VERSIONS:
            raise ContractError(f"unsupported contract version {self.version}")
        if not isinstance(self.job_id, str) or not _JOB_ID.fullmatch(self.job_id):
            raise ContractError(f"bad job_id {self.job_id!r}")
        if self.style not in STYLES or self.aspect not in ASPECTS or self.mode not in MODES:
            raise ContractError(f"unknown style/aspect/mode {self.style!r}/{self.aspect!r}/{self.mode!r}")
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ContractError("empty prompt")
        if not _is_int(self.seed) or not 0 <= self.seed < 2**32:
            raise ContractError(f"seed out of range: {self.seed!r}")
        if not _is_int(self.chat_id):
            raise ContractError(f"bad chat_id {self.chat_id!r}")
        self._check_v2_fields()

    def _check_v2_fields(self) -> None:
        if self.version == 1 and (self.input_image or self.strength is not None or self.candidates != 1):
            raise ContractError("input_image, strength and candidates need contract version 2")
        if self.input_image and not is_input_name(self.input_image):
            raise ContractError(f"bad input_image {self.input_image!r}")
        if self.strength is not None:
            if not self.input_image:
                raise ContractError("strength without input_image")
            if isinstance(self.strength, bool) or not isinstance(self.strength, (int, float)):
                raise ContractError(f"bad strength {self.strength!r}")
            if not 0 < self.strength <= 1:
                raise ContractError(f"strength out of range (0, 1]: {self.strength!r}")
        if not _is_int(self.candidates) or self.candidates not in CANDIDATE_COUNTS:
            raise ContractError(f"candidates must be one of {CANDIDATE_COUNTS}, not {self.candidates!r}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def candidate_seed(seed: int, n: int) -> int:
    """The seed of candidate n (1..GRID_SIZE) of a job drawn with `seed`."""
    return (seed + n - 1) % 2**32


def input_object_name(job_id: str) -> str:
    """The user's photo, as the functions' validation stores it."""
    return f"{INPUT_PREFIX}{job_id}.{INPUT_EXTENSION}"


def candidate_object_name(job_id: str, n: int, extension: str) -> str:
    if not 1 <= n <= GRID_SIZE or extension not in OUTPUT_EXTENSIONS:
        raise ValueError(f"no candidate {n!r} with extension {extension!r}")
    return f"{CANDIDATE_PREFIX}{job_id}/{n}.{extension}"


def candidate_from_name(name: str) -> tuple[str, int] | None:
    """(job_id, n) of a candidate object's name, or None for any other name."""
    match = _CANDIDATE_NAME.fullmatch(name)
    return (match.group(1), int(match.group(2))) if match else None


def is_input_name(name: str) -> bool:
    """Whether a job may start from this object: a stored photo or another job's candidate."""
    return bool(_INPUT_NAME.fullmatch(name)) or candidate_from_name(name) is not None


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
    if state == REJECTED and reason not in REJECT_REASONS:
        raise ValueError(f"a rejection's reason must be one of {REJECT_REASONS}, not {reason!r}")
    body: dict[str, object] = {"version": CONTRACT_VERSION, "job_id": job_id, "state": state}
    if reason is not None:
        body["reason"] = reason
    return json.dumps(body).encode()


def output_metadata(
    job: GenerationJob,
    width: int,
    height: int,
    *,
    candidate: int = 0,
    flagged: tuple[int, ...] = (),
    seed: int | None = None,
) -> dict[str, str]:
    """Custom metadata for the output object (candidate 0) or candidate n of a grid: everything
    delivery needs, as strings. `flagged`: the grid's candidates left blank (output only).
    `seed`: the one drawn with, where it is not the candidate's own (a broken picture redrawn)."""
    if seed is None:
        seed = candidate_seed(job.seed, candidate) if candidate else job.seed
    metadata = {
        "contract": str(CONTRACT_VERSION),
        "job_id": job.job_id,
        "chat_id": str(job.chat_id),
        "style": job.style,
        "seed": str(seed),
        "width": str(width),
        "height": str(height),
        "candidates": str(job.candidates),
    }
    if candidate:
        metadata["candidate"] = str(candidate)
    if flagged:
        metadata["flagged"] = ",".join(str(n) for n in flagged)
    return metadata
