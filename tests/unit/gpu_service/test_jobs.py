"""The pure half of the job moves; tests/integration/gpu_service runs them against Firestore."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from gpu_service.jobs import GENERATED, GENERATING, changes_for, may_move

LATER_STATES = ["generated", "delivered", "failed", "rejected"]
EARLIER_STATES = ["received", "awaiting_style", "validated"]


def test_generating_only_from_queued() -> None:
    assert may_move("queued", GENERATING)
    for state in [GENERATING, *LATER_STATES, *EARLIER_STATES, None, "nonsense"]:
        assert not may_move(state, GENERATING), state


def test_generated_from_queued_or_generating() -> None:
    # From queued too: a job whose generating stamp was lost still gets to generated.
    assert may_move("queued", GENERATED)
    assert may_move(GENERATING, GENERATED)
    for state in [*LATER_STATES, *EARLIER_STATES, None]:
        assert not may_move(state, GENERATED), state


@pytest.mark.parametrize("target", [GENERATING, GENERATED])
def test_a_move_sets_the_state_and_stamps_its_time(target: str) -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    assert changes_for(target, now) == {"state": target, f"times.{target}": now}
