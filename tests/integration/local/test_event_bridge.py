"""The event bridge against the real storage emulator, posting to real HTTP receivers."""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import functions_framework
import httpx
import pytest
from google.cloud import storage
from werkzeug.serving import make_server

from local.emulators import EmulatorHosts
from local.event_bridge import EVENT_TYPE, BridgeSettings, EventBridge, event_id
from local.processes import Supervisor, free_port
from tests.conftest import BUCKET, PROJECT
from tests.support.waits import wait_until

from .conftest import Received, Receiver

ROOT = Path(__file__).resolve().parents[3]
SINK = Path(__file__).with_name("bridge_cloud_event_sink.py")


@pytest.fixture
def bucket(emulators: EmulatorHosts) -> storage.Bucket:
    return storage.Client(project=PROJECT).bucket(BUCKET)


@pytest.fixture
def prefix() -> str:
    """A folder of its own per test, so no bridge sees another test's objects."""
    return f"outputs/{uuid.uuid4().hex[:10]}/"


def settings(target: str, prefix: str, **overrides: Any) -> BridgeSettings:
    """Faster than the defaults, so retries fit in a short test."""
    values: dict[str, Any] = {"interval": 0.05, "initial_backoff": 0.1, "max_backoff": 0.4, **overrides}
    return BridgeSettings(bucket=BUCKET, target=target, prefix=prefix, **values)


def upload(bucket: storage.Bucket, name: str, data: bytes = b"\x89PNG fake", **metadata: str) -> storage.Blob:
    blob = bucket.blob(name)
    if metadata:
        blob.metadata = metadata
    blob.upload_from_string(data, content_type="image/png")
    return blob


def wait_for_stats(
    bridge: EventBridge, condition: Callable[[dict[str, Any]], bool], timeout: float = 10.0
) -> dict[str, Any]:
    """The bridge's stats once `condition` holds for them (tests/support/waits.wait_until cannot
    put the last stats in its failure message)."""
    deadline = time.monotonic() + timeout
    while not condition(stats := bridge.stats()):
        assert time.monotonic() < deadline, f"not within {timeout:.0f}s: {stats}"
        time.sleep(0.01)
    return stats


def settled(stats: dict[str, Any]) -> bool:
    """Nothing under way and nothing scheduled: no more attempts can come."""
    return stats["in_flight"] == 0 and stats["pending_retries"] == 0


def listed_after(bridge: EventBridge, listings: int = 2) -> dict[str, Any]:
    """The stats once `listings` more listings are taken (the first may have begun before the
    caller's last write) and every attempt they started is settled."""
    target = bridge.stats()["listings"] + listings
    return wait_for_stats(bridge, lambda stats: stats["listings"] >= target and settled(stats))


def statuses(*codes: int) -> Callable[[Received], tuple[int, str, str]]:
    """Answer with these codes in turn, then 200 for ever."""
    remaining = list(codes)
    lock = threading.Lock()

    def answer(received: Received) -> tuple[int, str, str]:
        with lock:
            code = remaining.pop(0) if remaining else 200
        return code, "", "text/plain"

    return answer


def test_a_new_object_is_announced_once_as_eventarc_would(
    bucket: storage.Bucket, prefix: str, make_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_receiver()
    name = f"{prefix}job-1.png"

    with EventBridge(settings(receiver.url, prefix)) as bridge:
        blob = upload(bucket, name, job_id="job-1", chat_id="42")
        receiver.wait_for(1)
        listed_after(bridge, listings=10)  # none of ten more listings may announce it again

    [request] = receiver.received
    assert request.method == "POST"
    headers = request.headers
    assert headers["ce-id"] == event_id(BUCKET, name, blob.generation)
    assert headers["ce-source"] == f"//storage.googleapis.com/projects/_/buckets/{BUCKET}"
    assert headers["ce-type"] == EVENT_TYPE == "google.cloud.storage.object.v1.finalized"
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-subject"] == f"objects/{name}"
    assert headers["ce-bucket"] == BUCKET
    assert headers["content-type"].startswith("application/json")
    body = json.loads(request.body)
    assert body["name"] == name
    assert body["bucket"] == BUCKET
    assert body["generation"] == str(blob.generation)
    assert body["contentType"] == "image/png"
    assert body["size"] == str(len(b"\x89PNG fake"))
    assert body["md5Hash"] == blob.md5_hash
    assert body["metadata"] == {"job_id": "job-1", "chat_id": "42"}
    assert headers["ce-time"] == body["updated"]
    assert body["timeCreated"].endswith("Z")


def test_a_failing_receiver_gets_the_same_event_until_it_succeeds_then_no_more(
    bucket: storage.Bucket, prefix: str, make_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_receiver(statuses(500, 503))

    with EventBridge(settings(receiver.url, prefix)) as bridge:
        upload(bucket, f"{prefix}job-2.png")
        receiver.wait_for(3)
        stats = wait_for_stats(bridge, lambda stats: stats["delivered"] == 1 and settled(stats))

    assert len(receiver.received) == 3
    assert len({request.headers["ce-id"] for request in receiver.received}) == 1
    assert (stats["announced"], stats["attempts"], stats["delivered"], stats["gave_up"]) == (1, 3, 1, 0)
    assert stats["by_outcome"] == {"500": 1, "503": 1, "200": 1}


def test_an_object_present_before_start_is_not_announced(
    bucket: storage.Bucket, prefix: str, make_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_receiver()
    upload(bucket, f"{prefix}before.png")

    with EventBridge(settings(receiver.url, prefix)) as bridge:
        upload(bucket, f"{prefix}after.png")
        receiver.wait_for(1)
        listed_after(bridge)

    assert [request.headers["ce-subject"] for request in receiver.received] == [f"objects/{prefix}after.png"]


def test_overwriting_an_object_announces_its_new_generation_with_a_new_id(
    bucket: storage.Bucket, prefix: str, make_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_receiver()
    name = f"{prefix}job-3.png"

    with EventBridge(settings(receiver.url, prefix)):
        first = upload(bucket, name, b"one")
        receiver.wait_for(1)
        second = upload(bucket, name, b"two!")
        receiver.wait_for(2)

    generations = [json.loads(request.body)["generation"] for request in receiver.received]
    assert generations == [str(first.generation), str(second.generation)]
    assert receiver.received[0].headers["ce-id"] != receiver.received[1].headers["ce-id"]


def test_an_object_whose_delivery_keeps_failing_does_not_hold_up_another(
    bucket: storage.Bucket, prefix: str, make_receiver: Callable[..., Receiver]
) -> None:
    def fail_stuck(received: Received) -> tuple[int, str, str]:
        return (
            (500, "", "text/plain") if "stuck" in received.headers["ce-subject"] else (204, "", "text/plain")
        )

    receiver = make_receiver(fail_stuck)
    # One worker: a bridge that slept between retries would have to finish "stuck" first.
    bridge_settings = settings(
        receiver.url, prefix, workers=1, max_attempts=4, initial_backoff=0.3, max_backoff=1.2
    )

    with EventBridge(bridge_settings) as bridge:
        upload(bucket, f"{prefix}stuck.png")
        wait_until(lambda: receiver.received, 5, "the stuck object's event", interval=0.01)
        upload(bucket, f"{prefix}fine.png")
        receiver.wait_for(5, timeout=10)
        stats = wait_for_stats(
            bridge, lambda stats: stats["delivered"] + stats["gave_up"] == 2 and settled(stats)
        )

    subjects = [request.headers["ce-subject"].rsplit("/", 1)[-1] for request in receiver.received]
    assert subjects.count("stuck.png") == 4
    assert subjects.count("fine.png") == 1
    assert subjects.index("fine.png") < 3  # delivered before stuck.png's third attempt
    assert (stats["delivered"], stats["gave_up"]) == (1, 1)


def test_retries_have_no_attempt_cap_only_the_retention_as_eventarc(
    bucket: storage.Bucket, prefix: str, make_receiver: Callable[..., Receiver]
) -> None:
    """Eventarc retries until the message's retention runs out, not for a number of attempts:
    twelve failures (more than the bridge's old cap of eight) still end in a delivery; an event
    still failing when its retention runs out is given up, with no attempt after that."""
    receiver = make_receiver(statuses(*[503] * 12))
    with EventBridge(settings(receiver.url, prefix, initial_backoff=0.01, max_backoff=0.05)) as bridge:
        upload(bucket, f"{prefix}long-outage.png")
        stats = wait_for_stats(bridge, lambda stats: stats["delivered"] == 1 and settled(stats))
    assert (stats["attempts"], stats["gave_up"]) == (13, 0)
    assert len(receiver.received) == 13

    failing = make_receiver(lambda received: (500, "", "text/plain"))
    horizon = settings(failing.url, prefix, initial_backoff=0.05, max_backoff=0.2, retention=1.0)
    with EventBridge(horizon) as bridge:
        started = time.monotonic()
        upload(bucket, f"{prefix}never.png")
        stats = wait_for_stats(bridge, lambda stats: stats["gave_up"] == 1 and settled(stats))
        gave_up = time.monotonic() - started
        attempts = len(failing.received)
        listed_after(bridge)
    assert stats["delivered"] == 0
    assert len(failing.received) == attempts  # nothing after giving up
    # Attempts 0.05 s, 0.1 s, 0.2 s, then 0.2 s apart until the next would pass the 1 s retention.
    assert 0.8 <= gave_up < 3.0, gave_up
    assert 5 <= attempts <= 8, attempts


@pytest.fixture
def cloud_event_function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Path]]:
    """The sink function served by functions-framework, as with `--signature-type=cloudevent`."""
    log = tmp_path / "events.jsonl"
    monkeypatch.setenv("BRIDGE_SINK_LOG", str(log))
    app = functions_framework.create_app("record_event", str(SINK), signature_type="cloudevent")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", log
    server.shutdown()
    server.server_close()


def test_functions_framework_reads_the_post_as_a_storage_cloud_event(
    bucket: storage.Bucket, prefix: str, cloud_event_function: tuple[str, Path]
) -> None:
    url, log = cloud_event_function
    name = f"{prefix}job-4.png"

    with EventBridge(settings(url, prefix)) as bridge:
        blob = upload(bucket, name, job_id="job-4", chat_id="7", style="pixel")
        deadline = time.monotonic() + 10
        while bridge.stats()["attempts"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)

    [event] = [json.loads(line) for line in log.read_text().splitlines()]
    attributes, data = event["attributes"], event["data"]
    assert attributes["type"] == "google.cloud.storage.object.v1.finalized"
    assert attributes["subject"] == f"objects/{name}"
    assert attributes["source"] == f"//storage.googleapis.com/projects/_/buckets/{BUCKET}"
    assert attributes["id"] == event_id(BUCKET, name, blob.generation)
    assert attributes["bucket"] == BUCKET
    assert data["name"] == name
    assert data["bucket"] == BUCKET
    assert data["generation"] == str(blob.generation)
    assert data["metadata"] == {"job_id": "job-4", "chat_id": "7", "style": "pixel"}


def test_the_command_line_bridge_is_ready_on_healthz_and_delivers(
    bucket: storage.Bucket, prefix: str, tmp_path: Path, make_receiver: Callable[..., Receiver]
) -> None:
    receiver = make_receiver()
    health_port = free_port()
    argv = [
        sys.executable,
        "-m",
        "local.event_bridge",
        "--bucket",
        BUCKET,
        "--target",
        receiver.url,
        "--prefix",
        prefix,
        "--health-port",
        str(health_port),
        "--interval",
        "0.05",
    ]
    supervisor = Supervisor(tmp_path)
    try:
        supervisor.start("event-bridge", argv, ready_url=f"http://127.0.0.1:{health_port}/healthz", cwd=ROOT)
        upload(bucket, f"{prefix}job-5.png")
        receiver.wait_for(1)
        health = httpx.get(f"http://127.0.0.1:{health_port}/healthz")
    finally:
        supervisor.stop()

    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["delivered"] == 1
    assert receiver.received[0].headers["ce-subject"] == f"objects/{prefix}job-5.png"
    lines = (tmp_path / "event-bridge.log").read_text().splitlines()
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    [delivered] = [entry for entry in entries if entry.get("outcome") == "200"]
    assert delivered["severity"] == "INFO"
    assert delivered["object"] == f"{prefix}job-5.png"
    assert delivered["event_id"] == receiver.received[0].headers["ce-id"]
