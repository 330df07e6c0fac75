"""The CloudEvent the bridge posts, built from an object resource: pure functions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cloudevents.http import from_http

from local.event_bridge import BridgeSettings, backoff, event_id, finalized_event, rfc3339

RESOURCE = {
    "kind": "storage#object",
    "id": "imagebot-images-local/outputs/job-1.png/1700000000123456",
    "name": "outputs/job-1.png",
    "bucket": "imagebot-images-local",
    "generation": "1700000000123456",
    "metageneration": "1",
    "contentType": "image/png",
    "timeCreated": "2024-01-02T03:04:05.678Z",
    "updated": "2024-01-02T03:04:05.678Z",
    "size": "1234",
    "md5Hash": "kAFQmDzST7DWlj99KOF/cg==",
    "metadata": {"job_id": "job-1", "chat_id": "42"},
    "acl": [],
}


def test_headers_are_eventarc_binary_mode_attributes() -> None:
    headers, _ = finalized_event(RESOURCE)

    assert headers == {
        "ce-id": event_id("imagebot-images-local", "outputs/job-1.png", "1700000000123456"),
        "ce-source": "//storage.googleapis.com/projects/_/buckets/imagebot-images-local",
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.storage.object.v1.finalized",
        "ce-subject": "objects/outputs/job-1.png",
        "ce-time": "2024-01-02T03:04:05.678Z",
        "ce-bucket": "imagebot-images-local",
        "content-type": "application/json; charset=utf-8",
    }


def test_body_is_the_object_resource_without_fields_events_do_not_carry() -> None:
    _, body = finalized_event(RESOURCE)

    data = json.loads(body)
    assert data == {key: value for key, value in RESOURCE.items() if key != "acl"}


def test_the_cloudevents_sdk_reads_it_as_functions_framework_does() -> None:
    headers, body = finalized_event(RESOURCE)

    event = from_http(headers, body)

    assert event["type"] == "google.cloud.storage.object.v1.finalized"
    assert event["subject"] == "objects/outputs/job-1.png"
    assert event["bucket"] == "imagebot-images-local"
    assert event.data["name"] == "outputs/job-1.png"
    assert event.data["metadata"] == {"job_id": "job-1", "chat_id": "42"}


def test_event_id_is_stable_per_generation_and_differs_between_them() -> None:
    first = event_id("b", "outputs/x.png", 1)

    assert first == event_id("b", "outputs/x.png", "1")
    assert first != event_id("b", "outputs/x.png", 2)
    assert first != event_id("c", "outputs/x.png", 1)
    assert first.isdigit()


def test_time_falls_back_to_creation_time() -> None:
    resource = {key: value for key, value in RESOURCE.items() if key != "updated"}

    headers, _ = finalized_event(resource)

    assert headers["ce-time"] == "2024-01-02T03:04:05.678Z"


def test_rfc3339_is_utc_with_milliseconds() -> None:
    moment = datetime(2024, 1, 2, 4, 4, 5, 678_901, tzinfo=timezone(timedelta(hours=1)))

    assert rfc3339(moment) == "2024-01-02T03:04:05.678Z"
    assert rfc3339(datetime(2024, 1, 2, tzinfo=UTC)) == "2024-01-02T00:00:00.000Z"
    assert rfc3339(None) is None


def test_backoff_doubles_up_to_its_cap() -> None:
    assert [backoff(attempt, 0.5, 4.0) for attempt in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


@pytest.mark.parametrize(
    "overrides",
    [{"max_attempts": 0}, {"workers": 0}, {"interval": 0}, {"initial_backoff": 2.0, "max_backoff": 1.0}],
)
def test_settings_refuse_nonsense(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BridgeSettings(bucket="b", target="http://127.0.0.1:1", **overrides)  # type: ignore[arg-type]
