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
from gpu_service import vocabulary as gpu_words


def test_both_sides_agree_on_version_and_vocabularies():
    assert functions_words.CONTRACT_VERSION == gpu.CONTRACT_VERSION
    assert functions_words.STYLES == gpu.STYLES
    assert functions_words.ASPECTS == gpu.ASPECTS
    assert functions_words.MODES == gpu.MODES


@pytest.mark.parametrize("style", functions_words.STYLES)
def test_a_text_job_built_by_the_functions_is_read_by_the_gpu_service(style):
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
        gpu.GenerationJob.from_json(json.dumps({**body, "version": 3}).encode())


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
    body = {"job_id": "u1", "chat_id": 1, "prompt": "p", "style": "pixel", "seed": 1, "version": 2, **change}
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
    metadata = {**gpu.output_metadata(job, 64, 64), "contract": "3"}
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


# Contract v2: an input image (img2img), its strength, a grid of candidates, cancel.
PHOTO = functions.input_object_name("u9")
CANDIDATE = functions.candidate_object_name("u8", 3, "png")


def test_both_sides_agree_on_the_v2_vocabulary():
    assert functions_words.CONTRACT_VERSION == gpu.CONTRACT_VERSION == 2
    assert functions_words.ACCEPTED_VERSIONS == gpu.ACCEPTED_VERSIONS == (1, 2)
    assert functions_words.GRID_SIZE == gpu.GRID_SIZE == 4
    assert (functions_words.CANCELLED, functions_words.INPUT_MISSING) == ("cancelled", "input_missing")
    assert functions_words.REJECT_REASONS == gpu_words.REJECT_REASONS == ("flagged", "input_missing")


@pytest.mark.parametrize(
    "fields",
    [
        {"input_image": PHOTO},
        {"input_image": PHOTO, "strength": 0.35},
        {"input_image": PHOTO, "strength": 1.0},
        {"input_image": CANDIDATE, "strength": 0.3, "candidates": 4},
        {"candidates": 4},
    ],
)
def test_a_v2_job_built_by_the_functions_is_read_by_the_gpu_service(fields):
    sent = functions.GenerationJob(
        job_id="u10", chat_id=5, prompt="a cat", style="ghibli", seed=2**32 - 2, **fields
    )
    received = gpu.GenerationJob.from_json(sent.to_json())
    assert vars(received) == vars(sent)
    assert received.version == 2


def test_the_gpu_service_reads_a_v1_job_as_one_text_picture():
    # a sender deployed before v2 (rolling deploy): no new fields in the body
    body = {"job_id": "u1", "chat_id": 1, "prompt": "p", "style": "pixel", "seed": 1, "version": 1}
    job = gpu.GenerationJob.from_json(json.dumps(body).encode())
    assert (job.version, job.input_image, job.strength, job.candidates) == (1, "", None, 1)
    # and the functions' side reads it too (dispatch to Vertex)
    assert functions.GenerationJob.from_json(json.dumps(body).encode()).candidates == 1


@pytest.mark.parametrize(
    "change",
    [
        {"strength": 0.5},  # strength without an input
        {"input_image": PHOTO, "strength": 0},
        {"input_image": PHOTO, "strength": 1.01},
        {"input_image": PHOTO, "strength": -0.2},
        {"candidates": 3},
        {"candidates": 0},
        {"input_image": "outputs/x.png"},
        {"input_image": "../x"},
        {"input_image": "inputs/../u1.jpg"},
        {"input_image": "inputs/u1.png"},
        {"input_image": "candidates/u1/5.png"},
        {"input_image": "candidates/u1/1.gif"},
        {"input_image": PHOTO + "\n"},
        {"version": 1, "input_image": PHOTO},
        {"version": 1, "candidates": 4},
    ],
)
def test_a_v2_job_breaking_the_contract_is_refused_by_both_sides(change):
    body = {"job_id": "u1", "chat_id": 1, "prompt": "p", "style": "pixel", "seed": 1, "version": 2, **change}
    with pytest.raises(gpu.ContractError):
        gpu.GenerationJob.from_json(json.dumps(body).encode())
    with pytest.raises(functions.ContractError):
        functions.GenerationJob.from_json(json.dumps(body).encode())


def test_both_sides_name_the_input_and_candidate_objects_alike():
    assert functions.input_object_name("u9") == gpu.input_object_name("u9") == "inputs/u9.jpg"
    for n in range(1, gpu.GRID_SIZE + 1):
        for extension in gpu.OUTPUT_EXTENSIONS:
            name = gpu.candidate_object_name("u8", n, extension)
            assert (
                name
                == functions.candidate_object_name("u8", n, extension)
                == f"candidates/u8/{n}.{extension}"
            )
            assert functions.candidate_from_name(name) == gpu.candidate_from_name(name) == ("u8", n)
            assert functions.is_input_name(name) and gpu.is_input_name(name)
            # a candidate is never taken for an output (delivery ignores it)
            assert functions.job_id_from_output_name(name) is None
    assert functions.candidate_from_name(PHOTO) is None
    assert gpu.is_input_name(PHOTO) and functions.is_input_name(PHOTO)
    for side in (functions, gpu):
        with pytest.raises(ValueError):
            side.candidate_object_name("u8", 5, "png")
        with pytest.raises(ValueError):
            side.candidate_object_name("u8", 0, "png")
        with pytest.raises(ValueError):
            side.candidate_object_name("u8", 1, "jpeg")


def test_grid_metadata_written_by_the_gpu_service_is_read_by_delivery():
    sent = functions.GenerationJob(
        job_id="u5", chat_id=3, prompt="p", style="pixel", seed=2**32 - 1, candidates=4
    )
    job = gpu.GenerationJob.from_json(sent.to_json())

    output = functions.OutputMetadata.from_metadata(gpu.output_metadata(job, 1024, 1024, flagged=(2, 4)))
    assert (output.candidates, output.candidate, output.flagged, output.seed) == (4, 0, (2, 4), 2**32 - 1)
    # candidate n carries its own seed: seed + n - 1, mod 2**32
    seeds = [
        functions.OutputMetadata.from_metadata(gpu.output_metadata(job, 512, 512, candidate=n)).seed
        for n in (1, 2, 3, 4)
    ]
    assert seeds == [2**32 - 1, 0, 1, 2]
    third = functions.OutputMetadata.from_metadata(gpu.output_metadata(job, 512, 512, candidate=3))
    assert (third.candidate, third.candidates, third.flagged, third.width) == (3, 4, (), 512)


def test_delivery_reads_v1_output_metadata_as_one_picture():
    v1 = {
        "contract": "1",
        "job_id": "u1",
        "chat_id": "1",
        "style": "pixel",
        "seed": "1",
        "width": "64",
        "height": "64",
    }
    read = functions.OutputMetadata.from_metadata(v1)
    assert (read.version, read.candidates, read.candidate, read.flagged) == (1, 1, 0, ())


def test_delivery_refuses_metadata_with_an_impossible_candidate():
    job = gpu.GenerationJob(job_id="u1", chat_id=1, prompt="p", style="pixel", seed=1)
    with pytest.raises(functions.ContractError):
        functions.OutputMetadata.from_metadata({**gpu.output_metadata(job, 64, 64), "candidates": "3"})
    with pytest.raises(functions.ContractError):
        functions.OutputMetadata.from_metadata({**gpu.output_metadata(job, 64, 64), "candidate": "2"})


def test_an_input_missing_rejection_is_read_by_the_functions():
    event = functions.ProgressEvent.from_json(gpu.progress_event("u77", "rejected", "input_missing"))
    assert (event.state, event.reason, event.version) == ("rejected", functions_words.INPUT_MISSING, 2)
    with pytest.raises(ValueError, match="reason"):
        gpu.progress_event("u77", "rejected", "bored")


def test_the_functions_read_a_v1_progress_event():
    body = json.dumps({"version": 1, "job_id": "u77", "state": "generating"}).encode()
    assert functions.ProgressEvent.from_json(body).version == 1


def test_the_gpu_never_moves_a_cancelled_job():
    assert not any(gpu_jobs.may_move(functions_words.CANCELLED, target) for target in gpu_jobs.GPU_MOVES)
