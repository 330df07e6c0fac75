"""The job document `jobs/<job_id>`: the GPU service's two moves of the state machine.

The functions own the state machine (queued is the last state they set before the GPU, and
generated is followed by delivered, or by failed). This service only moves a job
queued → generating → generated (or → rejected, for a flagged picture or a missing input),
stamps `times.<state>`, and never moves one backwards: a redelivered message must not pull a
delivered job back to generating. A job the functions cancelled is never moved at all, and the
move to generating says so, so that the caller draws nothing for it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum
from typing import Any

from google.cloud import firestore

from gpu_service.vocabulary import CANCELLED, GENERATED, GENERATING, GPU_MOVES, REJECTED

log = logging.getLogger(__name__)

# The states each move may start from (the contract's vocabulary). Any other state (generated,
# delivered, failed, ...) is already past the move, or final: the document is left as it is.
_MOVES_FROM = GPU_MOVES


class Move(StrEnum):
    MOVED = "moved"
    UNCHANGED = "unchanged"  # the job was already at or past the target state
    MISSING = "missing"  # no such job document
    CANCELLED = "cancelled"  # the user cancelled the job: nothing is to be drawn or written


def may_move(current: str | None, target: str) -> bool:
    """Pure: whether a job in state `current` may move to `target`."""
    return current in _MOVES_FROM[target]


def changes_for(target: str, now: datetime, **fields: Any) -> dict[str, Any]:
    """Pure: the Firestore field updates for a move (a dotted path updates one key of `times`)."""
    return {"state": target, f"times.{target}": now, **fields}


class JobDocuments:
    def __init__(self, db: firestore.Client, collection: str) -> None:
        self._db = db
        self._collection = collection

    def mark_generating(self, job_id: str, now: datetime) -> Move:
        """CANCELLED for a cancelled job: read in the same transaction as the move."""
        return self._move(job_id, GENERATING, now)

    def is_cancelled(self, job_id: str) -> bool:
        """Checked once more before anything is written: a job may be cancelled while drawn."""
        snapshot = self._db.collection(self._collection).document(job_id).get()
        return snapshot.exists and (snapshot.to_dict() or {}).get("state") == CANCELLED

    def mark_generated(self, job_id: str, now: datetime, **fields: Any) -> Move:
        """`fields`: what the picture says about the job (seed, negative_applied)."""
        return self._move(job_id, GENERATED, now, **fields)

    def mark_rejected(self, job_id: str, reason: str, now: datetime) -> Move:
        return self._move(job_id, REJECTED, now, reason=reason)

    def _move(self, job_id: str, target: str, now: datetime, **fields: Any) -> Move:
        ref = self._db.collection(self._collection).document(job_id)

        # Read and write in one transaction: a concurrent move (say, delivery) between the
        # two would otherwise be overwritten. Firestore re-runs the function on contention.
        @firestore.transactional
        def attempt(transaction: firestore.Transaction) -> Move:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists:
                return Move.MISSING
            state = (snapshot.to_dict() or {}).get("state")
            if state == CANCELLED:
                return Move.CANCELLED
            if not may_move(state, target):
                return Move.UNCHANGED
            # update(), never set(): it fails rather than create a document that is missing.
            transaction.update(ref, changes_for(target, now, **fields))
            return Move.MOVED

        outcome: Move = attempt(self._db.transaction())
        if outcome is Move.MISSING:
            # The image is still made and stored (the output object is what delivery needs);
            # only the bookkeeping is skipped. Creating the document here would invent a job.
            log.warning("no job document to mark %s; left missing", target, extra={"job_id": job_id})
        return outcome
