"""The versioned contract between the functions and the GPU service (the functions' side).

`functions/` and `gpu_service/` deploy separately and import nothing from each other; each holds
its own side of this contract, built on one vocabulary (vocabulary.py, generated from
common/vocabulary.py), and tests/contract/ builds messages with one side and reads them with the
other. Change both sides together and bump CONTRACT_VERSION when a change is breaking. This side
sends CONTRACT_VERSION and reads every version in ACCEPTED_VERSIONS (rolling deploys).

1. The generation job: the JSON body of a message on the generation topic. Version 2 adds:
   - `input_image`: the object the picture starts from (img2img), "" for text to image: the
     user's photo `inputs/<job_id>.jpg` (input_object_name) or a candidate of another job,
     `candidates/<job_id>/<n>.<ext>` (candidate_object_name; a variation);
   - `strength`: img2img strength, 0 < strength <= 1, only with an input; None = the style's own;
   - `candidates`: 1, or GRID_SIZE for a 2x2 choice: GRID_SIZE pictures drawn in one batch with
     seeds seed, seed + 1, ..., seed + GRID_SIZE - 1 (mod 2**32).
2. The output object: `outputs/<job_id>.<ext>` in the images bucket, ext one of
   OUTPUT_EXTENSIONS (png for pixel art, jpg or webp for the others; the object's contentType
   says which), with its custom metadata (OutputMetadata). A job has at most one output object.
   A grid job's output is the 2x2 collage, written after its candidates
   `candidates/<job_id>/<n>.<ext>` (each with metadata naming its `candidate` and seed), so a
   finalized output means every candidate is there. A candidate the GPU's safety checker
   flagged is not written; its tile is blank and the output metadata's `flagged` lists it.
3. The progress event: the JSON body of a message on the progress topic, published by the GPU
   service when it starts drawing a job (state generating), or when it rejects one (state
   rejected, reason "flagged": the picture, or every candidate of a grid, was flagged;
   "input_missing": the input object is gone). A rejection is final: tell the user.
4. The job document `jobs/<job_id>` in Firestore: the GPU service moves `state` from queued to
   generating to generated (or rejected) and stamps `times.<state>`; nothing else. A job these
   functions set to "cancelled" is never drawn, moved or written by the GPU: it checks before
   each batch and once more before writing the output.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from imagebot.core.vocabulary import (
    ACCEPTED_VERSIONS,
    ASPECTS,
    CANDIDATE_COUNTS,
    CANDIDATE_NAME_PATTERN,
    CANDIDATE_PREFIX,
    CONTRACT_VERSION,
    GRID_SIZE,
    INPUT_EXTENSION,
    INPUT_NAME_PATTERN,
    INPUT_PREFIX,
    JOB_ID_PATTERN,
    MODES,
    OUTPUT_EXTENSIONS,
    OUTPUT_PREFIX,
    PROGRESS_STATES,
    STYLES,
)

_JOB_ID = re.compile(JOB_ID_PATTERN)
_OUTPUT_NAME = re.compile(
    re.escape(OUTPUT_PREFIX) + f"({JOB_ID_PATTERN})" + r"\.(" + "|".join(OUTPUT_EXTENSIONS) + r")"
)
_INPUT_NAME = re.compile(INPUT_NAME_PATTERN)
_CANDIDATE_NAME = re.compile(CANDIDATE_NAME_PATTERN)


class ContractError(ValueError):
    """A message or object that does not follow the contract: never worth retrying."""


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
    strength: float | None = None  # None = the style's own strength (the GPU's styles.py)
    candidates: int = 1

    def __post_init__(self) -> None:
        if self.version not in ACCEPTED_VERSIONS:
            raise ContractError(f"unsupported contract version {self.version}")
        if not _JOB_ID.fullmatch(self.job_id):
            raise ContractError(f"bad job_id {self.job_id!r}")
        if self.style not in STYLES:
            raise ContractError(f"unknown style {self.style!r}")
        if self.aspect not in ASPECTS:
            raise ContractError(f"unknown aspect {self.aspect!r}")
        if self.mode not in MODES:
            raise ContractError(f"unknown mode {self.mode!r}")
        if not self.prompt.strip():
            raise ContractError("empty prompt")
        if not 0 <= self.seed < 2**32:
            raise ContractError(f"seed out of range: {self.seed}")
        self._check_v2_fields()

    def _check_v2_fields(self) -> None:
        if self.version == 1 and (self.input_image or self.strength is not None or self.candidates != 1):
            raise ContractError("input_image, strength and candidates need contract version 2")
        if self.input_image and not is_input_name(self.input_image):
            raise ContractError(f"bad input_image {self.input_image!r}")
        if self.strength is not None and not self.input_image:
            raise ContractError("strength without input_image")
        if self.strength is not None and not 0 < self.strength <= 1:
            raise ContractError(f"strength out of range (0, 1]: {self.strength}")
        if self.candidates not in CANDIDATE_COUNTS:
            raise ContractError(f"candidates must be one of {CANDIDATE_COUNTS}, not {self.candidates}")

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, body: bytes) -> GenerationJob:
        try:
            fields = json.loads(body)
            return cls(**fields)
        except (ValueError, TypeError) as error:
            raise ContractError(f"not a generation job: {error}") from error


@dataclass(frozen=True)
class OutputMetadata:
    """Custom metadata on the output object or on a candidate; every value travels as a string.

    `candidates`: how many the job drew (1, or GRID_SIZE: the output is then the collage);
    `candidate`: 0 on the output, n on candidate n (whose `seed` is its own); `flagged`: the
    grid's candidates the safety checker flagged (left blank in the collage, never written).
    """

    job_id: str
    chat_id: int
    style: str
    seed: int
    width: int
    height: int
    version: int = CONTRACT_VERSION
    candidates: int = 1
    candidate: int = 0
    flagged: tuple[int, ...] = ()

    @classmethod
    def from_metadata(cls, metadata: dict[str, str] | None) -> OutputMetadata:
        try:
            meta = metadata or {}
            flagged = meta.get("flagged", "")
            parsed = cls(
                job_id=meta["job_id"],
                chat_id=int(meta["chat_id"]),
                style=meta["style"],
                seed=int(meta["seed"]),
                width=int(meta["width"]),
                height=int(meta["height"]),
                version=int(meta["contract"]),
                candidates=int(meta.get("candidates", "1")),
                candidate=int(meta.get("candidate", "0")),
                flagged=tuple(int(n) for n in flagged.split(",")) if flagged else (),
            )
        except (KeyError, ValueError) as error:
            raise ContractError(f"bad output metadata: {error!r}") from error
        if parsed.version not in ACCEPTED_VERSIONS:
            raise ContractError(f"unsupported contract version {parsed.version}")
        if parsed.candidates not in CANDIDATE_COUNTS or not 0 <= parsed.candidate <= parsed.candidates:
            raise ContractError(f"bad candidates in output metadata: {metadata!r}")
        return parsed


@dataclass(frozen=True)
class ProgressEvent:
    job_id: str
    state: str  # GENERATING, or REJECTED (see `reason`: FLAGGED or INPUT_MISSING)
    version: int = CONTRACT_VERSION
    reason: str = ""

    @classmethod
    def from_json(cls, body: bytes) -> ProgressEvent:
        try:
            raw = json.loads(body)
            event = cls(
                job_id=raw["job_id"],
                state=raw["state"],
                version=raw.get("version", CONTRACT_VERSION),
                reason=str(raw.get("reason", "")),
            )
        except (ValueError, TypeError, KeyError) as error:
            raise ContractError(f"not a progress event: {error!r}") from error
        if (
            event.version not in ACCEPTED_VERSIONS
            or not _JOB_ID.fullmatch(str(event.job_id))
            or event.state not in PROGRESS_STATES
        ):
            raise ContractError(f"bad progress event {raw!r}")
        return event


def job_id_from_output_name(name: str) -> str | None:
    """The job id of an output object, or None for any other object in the bucket (a
    candidate, an input)."""
    match = _OUTPUT_NAME.fullmatch(name)
    return match.group(1) if match else None


def input_object_name(job_id: str) -> str:
    """Where validation stores the user's photo for a job; a job starts from it by this name."""
    return f"{INPUT_PREFIX}{job_id}.{INPUT_EXTENSION}"


def candidate_object_name(job_id: str, n: int, extension: str) -> str:
    """Candidate n (1..GRID_SIZE) of a grid job, its extension that of the job's output."""
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
