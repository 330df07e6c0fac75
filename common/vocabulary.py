"""The job contract's vocabulary: what both sides of it must spell the same way.

One source (common/vocabulary.py), copied by `make sync` into functions/imagebot/core/ and
gpu_service/ as `vocabulary.py`; each side's contract.py builds its messages, names and checks
from these. Change a word here and both deployables change with it; bump CONTRACT_VERSION when
the change is breaking.
"""

from __future__ import annotations

CONTRACT_VERSION = 2
# The versions a reader takes: a v1 job (text to image, one picture) may still be in flight
# from a sender deployed before v2 (rolling deploys), and so may v1 output metadata.
ACCEPTED_VERSIONS = (1, 2)
STYLES = ("ghibli", "realistic", "pixel")
ASPECTS = ("square", "portrait", "landscape")
MODES = ("normal", "economy")

# The output object: OUTPUT_PREFIX + "<job_id>.<ext>" in the images bucket.
OUTPUT_PREFIX = "outputs/"
OUTPUT_EXTENSIONS = ("png", "jpg", "webp")
JOB_ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"

# The input a job may start from (img2img, contract v2), an object in the images bucket: the
# user's photo, INPUT_PREFIX + "<job_id>.jpg" (stored by the functions' validation), or one
# candidate of another job's grid, CANDIDATE_PREFIX + "<job_id>/<n>.<ext>" (a variation).
INPUT_PREFIX = "inputs/"
INPUT_EXTENSION = "jpg"
CANDIDATE_PREFIX = "candidates/"
# A job draws one picture, or GRID_SIZE candidates (seeds seed .. seed + GRID_SIZE - 1, mod
# 2**32) shown as one 2x2 collage; candidate n is numbered 1..GRID_SIZE.
GRID_SIZE = 4
CANDIDATE_COUNTS = (1, GRID_SIZE)
# The names' regular expressions (without anchors): groups (job_id) and (job_id, n, ext).
INPUT_NAME_PATTERN = f"{INPUT_PREFIX}({JOB_ID_PATTERN})\\.{INPUT_EXTENSION}"
CANDIDATE_NAME_PATTERN = (
    f"{CANDIDATE_PREFIX}({JOB_ID_PATTERN})/([1-{GRID_SIZE}])\\.({'|'.join(OUTPUT_EXTENSIONS)})"
)

# The job document jobs/<job_id>. The functions own the state machine; the GPU service makes two
# moves of it, each only from these states (never backwards: a redelivered message must not pull
# a delivered job back to generating), and stamps `times.<state>` with each.
# A third move ends a job the GPU cannot draw for its user (its picture flagged, its input
# gone): rejected, with one of REJECT_REASONS, and a progress event in that state tells the
# functions to tell the user.
QUEUED = "queued"
GENERATING = "generating"
GENERATED = "generated"
REJECTED = "rejected"
# Set by the functions (a user's cancel). The GPU never draws, moves or writes for such a job.
CANCELLED = "cancelled"
# The reasons of a rejection: the safety checker flagged the picture, or the job's input
# object is gone (a terminal failure: told, never retried).
FLAGGED = "flagged"
INPUT_MISSING = "input_missing"
REJECT_REASONS = (FLAGGED, INPUT_MISSING)
GPU_MOVES: dict[str, frozenset[str]] = {
    GENERATING: frozenset({QUEUED}),
    GENERATED: frozenset({QUEUED, GENERATING}),
    REJECTED: frozenset({QUEUED, GENERATING}),
}
# The states a progress event (GPU → report_progress) may carry.
PROGRESS_STATES = (GENERATING, REJECTED)
