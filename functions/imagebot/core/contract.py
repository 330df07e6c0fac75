"""The versioned contract between the functions and the GPU service (the functions' side).

`functions/` and `gpu_service/` deploy separately and import nothing from each other; each holds
its own side of this contract, built on one vocabulary (vocabulary.py, generated from
common/vocabulary.py), and tests/contract/ builds messages with one side and reads them with the
other. Change both sides together and bump CONTRACT_VERSION when a change is breaking.

1. The generation job: the JSON body of a message on the generation topic.
2. The output object: `outputs/<job_id>.<ext>` in the images bucket, ext one of
   OUTPUT_EXTENSIONS (png for pixel art, jpg or webp for the others; the object's contentType
   says which), with its custom metadata. A job has at most one output object.
3. The progress event: the JSON body of a message on the progress topic, published by the GPU
   service when it starts drawing a job (so the user's status message can say so).
4. The job document `jobs/<job_id>` in Firestore: the GPU service moves `state` from queued to
   generating to generated and stamps `times.generating` / `times.generated`; nothing else.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from imagebot.core.vocabulary import (
    ASPECTS,
    CONTRACT_VERSION,
    JOB_ID_PATTERN,
    MODES,
    OUTPUT_EXTENSIONS,
    OUTPUT_PREFIX,
    PROGRESS_STATES,
    STYLES,
)

_JOB_ID = re.compile(f"^{JOB_ID_PATTERN}$")
_OUTPUT_NAME = re.compile(
    "^" + re.escape(OUTPUT_PREFIX) + f"({JOB_ID_PATTERN})" + r"\.(" + "|".join(OUTPUT_EXTENSIONS) + r")$"
)


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

    def __post_init__(self) -> None:
        if self.version != CONTRACT_VERSION:
            raise ContractError(f"unsupported contract version {self.version}")
        if not _JOB_ID.match(self.job_id):
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
    """Custom metadata on the output object; every value travels as a string."""

    job_id: str
    chat_id: int
    style: str
    seed: int
    width: int
    height: int
    version: int = CONTRACT_VERSION

    @classmethod
    def from_metadata(cls, metadata: dict[str, str] | None) -> OutputMetadata:
        try:
            meta = metadata or {}
            parsed = cls(
                job_id=meta["job_id"],
                chat_id=int(meta["chat_id"]),
                style=meta["style"],
                seed=int(meta["seed"]),
                width=int(meta["width"]),
                height=int(meta["height"]),
                version=int(meta["contract"]),
            )
        except (KeyError, ValueError) as error:
            raise ContractError(f"bad output metadata: {error!r}") from error
        if parsed.version != CONTRACT_VERSION:
            raise ContractError(f"unsupported contract version {parsed.version}")
        return parsed


@dataclass(frozen=True)
class ProgressEvent:
    job_id: str
    state: str  # GENERATING, or REJECTED (the GPU's safety checker flagged the picture)
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
            event.version != CONTRACT_VERSION
            or not _JOB_ID.match(str(event.job_id))
            or event.state not in PROGRESS_STATES
        ):
            raise ContractError(f"bad progress event {raw!r}")
        return event


def job_id_from_output_name(name: str) -> str | None:
    """The job id of an output object, or None for any other object in the bucket."""
    match = _OUTPUT_NAME.match(name)
    return match.group(1) if match else None
