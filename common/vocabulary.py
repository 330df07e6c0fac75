"""The job contract's vocabulary: what both sides of it must spell the same way.

One source (common/vocabulary.py), copied by `make sync` into functions/imagebot/core/ and
gpu_service/ as `vocabulary.py`; each side's contract.py builds its messages, names and checks
from these. Change a word here and both deployables change with it; bump CONTRACT_VERSION when
the change is breaking.
"""

from __future__ import annotations

CONTRACT_VERSION = 1
STYLES = ("ghibli", "realistic", "pixel")
ASPECTS = ("square", "portrait", "landscape")
MODES = ("normal", "economy")

# The output object: OUTPUT_PREFIX + "<job_id>.<ext>" in the images bucket.
OUTPUT_PREFIX = "outputs/"
OUTPUT_EXTENSIONS = ("png", "jpg", "webp")
JOB_ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"

# The job document jobs/<job_id>. The functions own the state machine; the GPU service makes two
# moves of it, each only from these states (never backwards: a redelivered message must not pull
# a delivered job back to generating), and stamps `times.<state>` with each.
# A third move ends a job whose picture the GPU's safety checker flagged: rejected, with this
# reason, and a progress event in that state tells the functions to tell the user.
QUEUED = "queued"
GENERATING = "generating"
GENERATED = "generated"
REJECTED = "rejected"
FLAGGED = "flagged"
GPU_MOVES: dict[str, frozenset[str]] = {
    GENERATING: frozenset({QUEUED}),
    GENERATED: frozenset({QUEUED, GENERATING}),
    REJECTED: frozenset({QUEUED, GENERATING}),
}
# The states a progress event (GPU → report_progress) may carry.
PROGRESS_STATES = (GENERATING, REJECTED)
