"""The functions and the GPU service share no code; this checks they still speak one contract.

Each test builds with one side's module and reads with the other's.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from imagebot.core import blocklist as functions_blocklist
from imagebot.core import contract as functions
from imagebot.core import jobs as functions_jobs
from imagebot.core import vocabulary as functions_words

from gpu_service import blocklist as gpu_blocklist
from gpu_service import contract as gpu
from gpu_service import jobs as gpu_jobs


def test_both_sides_agree_on_version_and_vocabularies():
    assert functions_words.CONTRACT_VERSION == gpu.CONTRACT_VERSION
    assert functions_words.STYLES == gpu.STYLES
    assert functions_words.ASPECTS == gpu.ASPECTS
    assert functions_words.MODES == gpu.MODES


@pytest.mark.parametrize("style", functions_words.STYLES)
def test_a_job_built_by_the_functions_is_read_by_the_gpu_service(style):
    sent = functions.GenerationJob(
        job_id="u123",
        chat_id=-1001,
        prompt="кот в шляпе, 🎩",
        style=style,
        seed=2**32 - 1,
        negative_prompt="blurry",
        aspect="portrait",
        mode="economy",
    )
    received = gpu.GenerationJob.from_json(sent.to_json())
    assert vars(received) == vars(sent)


def test_the_gpu_service_ignores_fields_from_a_newer_sender_but_refuses_a_newer_version():
    body = json.loads(
        functions.GenerationJob(job_id="u1", chat_id=1, prompt="p", style="pixel", seed=1).to_json()
    )
    assert gpu.GenerationJob.from_json(json.dumps({**body, "lora_scale": 0.5}).encode()).job_id == "u1"
    with pytest.raises(gpu.ContractError):
        gpu.GenerationJob.from_json(json.dumps({**body, "version": 2}).encode())


@pytest.mark.parametrize(
    "change",
    [
        {"style": "cubism"},
        {"job_id": "../etc"},
        {"prompt": "  "},
        {"seed": -1},
        {"chat_id": "7"},
        {"aspect": "round"},
    ],
)
def test_a_job_breaking_the_contract_is_refused_by_the_gpu_service(change):
    body = {"job_id": "u1", "chat_id": 1, "prompt": "p", "style": "pixel", "seed": 1, "version": 1, **change}
    with pytest.raises(gpu.ContractError):
        gpu.GenerationJob.from_json(json.dumps(body).encode())


def test_output_metadata_written_by_the_gpu_service_is_read_by_delivery():
    job = gpu.GenerationJob.from_json(
        functions.GenerationJob(job_id="u77", chat_id=555, prompt="p", style="realistic", seed=9).to_json()
    )
    metadata = gpu.output_metadata(job, width=512, height=768)
    assert all(isinstance(value, str) for value in metadata.values()), "object metadata values are strings"
    read = functions.OutputMetadata.from_metadata(metadata)
    assert (read.job_id, read.chat_id, read.style, read.seed, read.width, read.height) == (
        "u77",
        555,
        "realistic",
        9,
        512,
        768,
    )


def test_both_sides_agree_on_the_output_extensions():
    assert functions_words.OUTPUT_EXTENSIONS == gpu.OUTPUT_EXTENSIONS == ("png", "jpg", "webp")


@pytest.mark.parametrize("extension", gpu.OUTPUT_EXTENSIONS)
def test_delivery_finds_the_job_in_every_object_name_the_gpu_service_writes(extension):
    assert functions.job_id_from_output_name(gpu.output_object_name("u77", extension)) == "u77"
    assert [functions.job_id_from_output_name(name) for name in gpu.output_object_names("u77")] == ["u77"] * 3


def test_delivery_ignores_other_objects():
    assert functions.job_id_from_output_name("inputs/u77.png") is None
    assert functions.job_id_from_output_name("outputs/u77.png.tmp") is None
    assert functions.job_id_from_output_name("outputs/u77.jpeg") is None


def test_delivery_refuses_metadata_from_another_contract_version():
    job = gpu.GenerationJob(job_id="u1", chat_id=1, prompt="p", style="pixel", seed=1)
    metadata = {**gpu.output_metadata(job, 64, 64), "contract": "2"}
    with pytest.raises(functions.ContractError):
        functions.OutputMetadata.from_metadata(metadata)


def test_both_sides_block_the_same_terms():
    assert functions_blocklist.BLOCKED_TERMS == gpu_blocklist.BLOCKED_TERMS


@pytest.mark.parametrize(
    "prompt",
    [
        "a loli in a park",
        "L0L1",
        "l.o.l.i",
        "ｌｏｌｉ",
        "child porn",
        "childporn",
        "a gory scene",
        "a lolipop",
        "lol i love cats",
        "Al Gore",
        "a gore-tex jacket",
        "children at play",
        "кот в шляпе",
    ],
)
def test_both_sides_agree_on_each_prompt(prompt):
    assert functions_blocklist.is_blocked(prompt) == gpu_blocklist.is_blocked(prompt)
    assert functions_blocklist.blocked_term(prompt) == gpu_blocklist.blocked_term(prompt)


def test_a_progress_event_from_the_gpu_service_is_read_by_the_functions():
    event = functions.ProgressEvent.from_json(gpu.progress_event("u77"))
    assert (event.job_id, event.state, event.version) == (
        "u77",
        "generating",
        functions_words.CONTRACT_VERSION,
    )
    with pytest.raises(functions.ContractError):
        functions.ProgressEvent.from_json(gpu.progress_event("../u77"))


def test_a_rejection_from_the_gpu_service_is_read_by_the_functions_with_its_reason():
    event = functions.ProgressEvent.from_json(gpu.progress_event("u77", "rejected", "flagged"))

    assert (event.job_id, event.state, event.reason) == ("u77", "rejected", "flagged")
    with pytest.raises(ValueError, match="progress state"):
        gpu.progress_event("u77", "exploded")


# The job document: the functions own the state machine, the GPU service makes two moves of it.
ALL_STATES = [state.value for state in functions_jobs.State]


@pytest.mark.parametrize("target", sorted(gpu_jobs.GPU_MOVES))
def test_the_gpu_moves_a_job_only_where_the_functions_state_machine_allows_it(target):
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    for current in ALL_STATES:
        if gpu_jobs.may_move(current, target):
            allowed = functions_jobs.State(current), functions_jobs.State(target)
            assert functions_jobs.can_move(*allowed), f"the GPU moves {current} → {target}"
            # and writes what the functions would write for that move
            assert gpu_jobs.changes_for(target, now) == functions_jobs.move(*allowed, now)


def test_the_gpu_never_moves_a_job_the_functions_took_past_it():
    past_generating = {"generated", "delivered", "rejected", "failed"}
    assert not any(gpu_jobs.may_move(state, "generating") for state in past_generating)
    assert not any(gpu_jobs.may_move(state, "generated") for state in past_generating)
    # the functions expect both moves: they count the time of each from its stamp
    assert {"generating", "generated"} <= set(ALL_STATES)
    assert gpu_jobs.may_move("queued", "generating") and gpu_jobs.may_move("generating", "generated")
