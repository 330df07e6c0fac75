"""The job contract as the GPU service reads it (both sides together: tests/contract/)."""

from __future__ import annotations

import json

import pytest

from gpu_service.contract import (
    ContractError,
    GenerationJob,
    output_metadata,
    output_object_name,
    output_object_names,
)

GOOD = {"job_id": "u1001", "chat_id": 42, "prompt": "a fox", "style": "pixel", "seed": 7}


def body(**changes: object) -> bytes:
    return json.dumps({**GOOD, **changes}).encode()


def test_a_good_job_parses_with_defaults() -> None:
    job = GenerationJob.from_json(body())

    assert job == GenerationJob(job_id="u1001", chat_id=42, prompt="a fox", style="pixel", seed=7)
    assert (job.aspect, job.mode, job.negative_prompt) == ("square", "normal", "")


def test_unknown_fields_from_a_newer_sender_are_ignored() -> None:
    assert GenerationJob.from_json(body(priority="high")).job_id == "u1001"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{nope", "not a generation job"),
        (b"[]", "not a generation job"),
        (json.dumps({"job_id": "u1"}).encode(), "not a generation job"),
        (body(style="cubism"), "unknown style"),
        (body(aspect="panorama"), "unknown style/aspect/mode"),
        (body(job_id="../etc/passwd"), "bad job_id"),
        (body(job_id=""), "bad job_id"),
        (body(prompt="   "), "empty prompt"),
        (body(seed=-1), "seed out of range"),
        (body(seed=2**32), "seed out of range"),
        (body(seed="7"), "seed out of range"),
        (body(chat_id="42"), "bad chat_id"),
        (body(version=3), "unsupported contract version"),
        (body(candidates=2), "candidates must be one of"),
        (body(strength=0.5), "strength without input_image"),
        (body(input_image="inputs/u1.jpg", strength=True), "bad strength"),
        (body(input_image="inputs/u1.jpg", strength="0.5"), "bad strength"),
        (body(input_image="outputs/u1.png"), "bad input_image"),
        (body(candidates=True), "candidates must be one of"),
    ],
)
def test_a_job_off_contract_is_a_contract_error(raw: bytes, reason: str) -> None:
    with pytest.raises(ContractError, match=reason):
        GenerationJob.from_json(raw)


def test_the_output_object_and_its_metadata() -> None:
    job = GenerationJob.from_json(body())

    assert output_object_name(job.job_id, "png") == "outputs/u1001.png"
    assert output_object_name(job.job_id, "jpg") == "outputs/u1001.jpg"
    assert output_object_names(job.job_id) == ["outputs/u1001.png", "outputs/u1001.jpg", "outputs/u1001.webp"]
    assert output_metadata(job, 512, 768) == {
        "contract": "2",
        "job_id": "u1001",
        "chat_id": "42",
        "style": "pixel",
        "seed": "7",
        "width": "512",
        "height": "768",
        "candidates": "1",
    }


def test_an_output_extension_off_the_contract_is_refused() -> None:
    with pytest.raises(ValueError, match="extension"):
        output_object_name("u1", "jpeg")
