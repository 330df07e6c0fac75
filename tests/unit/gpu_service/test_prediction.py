from __future__ import annotations

import json

import pytest

from gpu_service.prediction import MAX_INSTANCES, BadPredictRequest, parse_request

JOB = {"job_id": "j1", "chat_id": 7, "prompt": "a fox", "style": "pixel", "seed": 1}


def body(*instances: object, **extra: object) -> bytes:
    return json.dumps({"instances": list(instances), **extra}).encode()


def test_each_instance_is_a_job_or_says_why_not_in_order() -> None:
    parsed = parse_request(body(JOB, {**JOB, "job_id": "j2", "seed": -1}, "text", parameters={"any": 1}))

    assert [(i.job_id, i.job is not None) for i in parsed] == [("j1", True), ("j2", False), (None, False)]
    assert parsed[0].job is not None and parsed[0].job.prompt == "a fox"
    assert parsed[1].problem == "seed out of range: -1"
    assert parsed[2].problem is not None and "not a generation job" in parsed[2].problem


def test_a_newer_senders_extra_field_is_ignored_as_on_the_push_route() -> None:
    (instance,) = parse_request(body({**JOB, "model_prompt": "ignored"}))

    assert instance.job is not None and instance.problem is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"{", "not JSON"),
        (b"[]", 'no "instances" list'),
        (b'{"instances": {"job_id": "j1"}}', 'no "instances" list'),
        (b'{"instances": []}', "no instances"),
        (body(*[JOB] * (MAX_INSTANCES + 1)), f"at most {MAX_INSTANCES}"),
    ],
)
def test_a_body_that_is_not_a_prediction_request_is_refused_whole(raw: bytes, reason: str) -> None:
    with pytest.raises(BadPredictRequest, match=reason):
        parse_request(raw)


def test_whole_numbers_sent_as_doubles_by_the_vertex_sdk_are_read_as_integers() -> None:
    # The SDK's instances are protobuf Values, whose numbers are doubles.
    (whole, fractional) = parse_request(
        body(
            {**JOB, "seed": 7.0, "chat_id": -1001234567890.0, "version": 2.0, "candidates": 4.0},
            {**JOB, "job_id": "j2", "seed": 7.5},
        )
    )

    assert whole.job is not None and (whole.job.seed, whole.job.chat_id, whole.job.candidates) == (
        7,
        -1001234567890,
        4,
    )
    assert fractional.job is None and fractional.problem == "seed out of range: 7.5"
