from datetime import UTC, datetime, timedelta

import pytest
from imagebot.core.jobs import State, can_move, job_id_for_update, move, seed_for, stage_durations

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def test_moves_go_forward_and_may_skip_stages():
    assert can_move(State.RECEIVED, State.VALIDATED)
    assert can_move(State.QUEUED, State.DELIVERED)
    assert not can_move(State.GENERATED, State.GENERATING)
    assert not can_move(State.QUEUED, State.QUEUED)


def test_final_states_never_move():
    for final in (State.DELIVERED, State.REJECTED, State.FAILED):
        assert not can_move(final, State.FAILED)
        assert not can_move(final, State.DELIVERED)


def test_failure_is_reachable_from_any_open_state():
    assert can_move(State.GENERATING, State.FAILED)
    assert can_move(State.AWAITING_STYLE, State.REJECTED)


def test_move_stamps_the_time_and_refuses_backwards():
    assert move(State.QUEUED, State.GENERATING, T0, gpu="cpu") == {
        "state": "generating",
        "times.generating": T0,
        "gpu": "cpu",
    }
    with pytest.raises(ValueError):
        move(State.DELIVERED, State.QUEUED, T0)


def test_job_ids_and_seeds_are_stable_per_update():
    assert job_id_for_update(42) == job_id_for_update(42) != job_id_for_update(43)
    assert seed_for("u42") == seed_for("u42")
    assert seed_for("u42") != seed_for("u43")
    assert 0 <= seed_for("u42") < 2**32


def test_stage_durations_follow_the_pipeline_order():
    times = {
        "delivered": T0 + timedelta(seconds=9),
        "received": T0,
        "validated": T0 + timedelta(seconds=0.5),
        "queued": T0 + timedelta(seconds=1),
        "generated": T0 + timedelta(seconds=8),
    }
    assert stage_durations(times) == [
        ("validated", 0.5),
        ("queued", 0.5),
        ("generated", 7.0),
        ("delivered", 1.0),
    ]


def test_a_first_seed_comes_from_the_words_so_repeats_meet_in_the_cache():
    from dataclasses import replace

    from imagebot.core.jobs import Job, State, cache_key, seed_for_prompt

    assert (
        seed_for_prompt("a red fox") == seed_for_prompt("a red fox") != seed_for_prompt("a red fox", "snow")
    )
    job = Job("u1", State.VALIDATED, prompt="a red fox", style="pixel", seed=seed_for_prompt("a red fox"))
    assert cache_key(job, "normal") == cache_key(replace(job, job_id="u2", chat_id=5), "normal")
    for change in ({"style": "ghibli"}, {"seed": 1}, {"aspect": "portrait"}, {"negative_prompt": "snow"}):
        assert cache_key(replace(job, **change), "normal") != cache_key(job, "normal")
    assert cache_key(job, "economy") != cache_key(job, "normal")
