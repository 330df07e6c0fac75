"""Eventarc for the local stack: announce new Cloud Storage objects as `object.finalized` CloudEvents.

gcp-storage-emulator sends no object notifications, so this bridge polls the bucket and posts,
for each new (name, generation), the event Eventarc would post to `deliver_image`: a CloudEvent
in binary HTTP mode (attributes in `ce-*` headers, the Cloud Storage object resource as the JSON
body), which functions-framework turns into the `CloudEvent` the function receives.

Delivery is at-least-once, as with Eventarc: a non-2xx answer or a transport error is retried
with Eventarc's documented policy (EventarcRetry: exponential backoff from 10 s up to 600 s, for
as long as the message is retained, 24 h, with no cap on attempts), and the event id stays the
same for every attempt, so the receiver can deduplicate. Retries are scheduled, not slept on, so
one failing object never holds up another. Objects present when the bridge starts are not
announced (Eventarc only reports changes after the trigger exists).

    python -m local.event_bridge --bucket B --target URL [--prefix outputs/] [--health-port P]
        [--initial-backoff S --max-backoff S --retention S]   (tests compress time with these)

`GET /healthz` on the health port answers 200 once the starting listing is taken, so a
supervisor waiting on it knows that every object written from then on will be announced.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import itertools
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType, TracebackType
from typing import Any

import httpx
from google.cloud import storage

EVENT_TYPE = "google.cloud.storage.object.v1.finalized"
# The fields of google.events.cloud.storage.v1.StorageObjectData, as the JSON API spells them.
OBJECT_FIELDS = (
    "kind",
    "id",
    "selfLink",
    "mediaLink",
    "name",
    "bucket",
    "generation",
    "metageneration",
    "contentType",
    "contentEncoding",
    "contentDisposition",
    "contentLanguage",
    "cacheControl",
    "timeCreated",
    "updated",
    "storageClass",
    "size",
    "md5Hash",
    "crc32c",
    "etag",
    "componentCount",
    "kmsKeyName",
    "temporaryHold",
    "eventBasedHold",
    "retentionExpirationTime",
    "customTime",
    "metadata",
)

log = logging.getLogger("local.event_bridge")


# -- the event, as pure functions ------------------------------------------------------------------


def event_id(bucket: str, name: str, generation: str | int) -> str:
    """Stable per object generation, so every redelivery carries the same id.

    Eventarc's ids are opaque decimal numbers (Pub/Sub message ids); these look alike, so no
    receiver is tempted to parse them.
    """
    digest = hashlib.sha256(f"{bucket}\n{name}\n{generation}".encode()).hexdigest()
    return str(int(digest[:13], 16))


def event_source(bucket: str) -> str:
    return f"//storage.googleapis.com/projects/_/buckets/{bucket}"


def finalized_event(resource: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
    """The headers and body of the binary-mode CloudEvent for a finalized object."""
    data = {key: resource[key] for key in OBJECT_FIELDS if resource.get(key) is not None}
    bucket, name = str(data["bucket"]), str(data["name"])
    headers = {
        "ce-id": event_id(bucket, name, data["generation"]),
        "ce-source": event_source(bucket),
        "ce-specversion": "1.0",
        "ce-type": EVENT_TYPE,
        "ce-subject": f"objects/{name}",
        "ce-time": str(data.get("updated") or data["timeCreated"]),
        # An extension attribute Eventarc adds to Cloud Storage events (triggers filter on it).
        "ce-bucket": bucket,
        "content-type": "application/json; charset=utf-8",
    }
    return headers, json.dumps(data, ensure_ascii=False).encode()


def rfc3339(moment: datetime | None) -> str | None:
    """Cloud Storage's timestamp form: UTC, milliseconds, a Z."""
    if moment is None:
        return None
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def object_resource(blob: storage.Blob) -> dict[str, Any]:
    """The JSON API object resource of a listed blob, from the client's public attributes."""

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    resource: dict[str, Any] = {
        "kind": "storage#object",
        "id": blob.id,
        "selfLink": blob.self_link,
        "mediaLink": blob.media_link,
        "name": blob.name,
        "bucket": blob.bucket.name,
        # The JSON API sends 64-bit integers as strings; so does Eventarc.
        "generation": text(blob.generation),
        "metageneration": text(blob.metageneration),
        "contentType": blob.content_type,
        "contentEncoding": blob.content_encoding,
        "contentDisposition": blob.content_disposition,
        "contentLanguage": blob.content_language,
        "cacheControl": blob.cache_control,
        "timeCreated": rfc3339(blob.time_created),
        "updated": rfc3339(blob.updated),
        "storageClass": blob.storage_class,
        "size": text(blob.size),
        "md5Hash": blob.md5_hash,
        "crc32c": blob.crc32c,
        "etag": blob.etag,
        "componentCount": blob.component_count,
        "kmsKeyName": blob.kms_key_name,
        "temporaryHold": blob.temporary_hold,
        "eventBasedHold": blob.event_based_hold,
        "retentionExpirationTime": rfc3339(blob.retention_expiration_time),
        "customTime": rfc3339(blob.custom_time),
        "metadata": dict(blob.metadata) if blob.metadata else None,
    }
    return {key: value for key, value in resource.items() if value is not None}


def backoff(attempt: int, initial: float, maximum: float) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): doubling, capped."""
    return float(min(maximum, initial * 2 ** (attempt - 1)))


# -- the bridge ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventarcRetry:
    """Eventarc Standard's retries (cloud.google.com/eventarc/docs/retry-events): those of its
    Pub/Sub transport subscription, an exponential backoff from 10 s up to 600 s between
    attempts, for the 24 h retention Eventarc gives the message; no cap on the attempts. The
    local stack's tests compress these times."""

    initial_backoff: float = 10.0
    max_backoff: float = 600.0
    retention: float = 24 * 3600.0

    def args(self) -> list[str]:
        """The bridge's command-line flags for this policy."""
        return [
            f"--initial-backoff={self.initial_backoff}",
            f"--max-backoff={self.max_backoff}",
            f"--retention={self.retention}",
        ]


EVENTARC = EventarcRetry()


@dataclass(frozen=True)
class BridgeSettings:
    """`retention`: an event not delivered within this many seconds of its announcement is
    given up; `max_attempts` (None: no cap, as Eventarc) gives up sooner."""

    bucket: str
    target: str
    prefix: str = ""
    interval: float = 0.2
    initial_backoff: float = EVENTARC.initial_backoff
    max_backoff: float = EVENTARC.max_backoff
    retention: float = EVENTARC.retention
    max_attempts: int | None = None
    workers: int = 4
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if (self.max_attempts is not None and self.max_attempts < 1) or self.workers < 1:
            raise ValueError("max_attempts and workers must be at least 1")
        if self.interval <= 0 or self.initial_backoff <= 0 or self.max_backoff < self.initial_backoff:
            raise ValueError("interval and backoffs must be positive, max_backoff >= initial_backoff")
        if self.retention <= 0:
            raise ValueError("retention must be positive")
        if not self.target.startswith(("http://", "https://")):
            raise ValueError(f"target must be an http(s) URL, not {self.target!r}")


@dataclass
class _Delivery:
    name: str
    generation: str
    headers: dict[str, str]
    body: bytes
    announced: float  # time.monotonic() of the announcement: the retention counts from it
    attempts: int = 0

    def expired(self, settings: BridgeSettings, now: float, wait: float) -> bool:
        """Whether the event is given up rather than tried again after `wait` seconds."""
        capped = settings.max_attempts is not None and self.attempts >= settings.max_attempts
        return capped or now + wait > self.announced + settings.retention


@dataclass
class BridgeStats:
    announced: int = 0
    delivered: int = 0
    gave_up: int = 0
    attempts: int = 0
    failed_polls: int = 0
    pending_retries: int = 0
    # Attempts handed to the pool and not finished, and listings taken: together a test's
    # "nothing more is coming" from the bridge (no attempt under way or due, and a listing taken
    # after the last object it cares about was written).
    in_flight: int = 0
    listings: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)


class EventBridge:
    """Polls one bucket and posts a finalized event per new object generation to one target.

    `start()` takes the starting listing before it returns; `stop()` waits for deliveries in
    flight and drops scheduled retries (the local stack is going away with them).
    """

    def __init__(
        self,
        settings: BridgeSettings,
        client: storage.Client | None = None,
        http: httpx.Client | None = None,
    ) -> None:
        self.settings = settings
        self._client = client or storage_client()
        self._http = http or httpx.Client(timeout=settings.timeout)
        self._owns_http = http is None
        self._seen: set[tuple[str, str]] = set()
        self._retries: list[tuple[float, int, _Delivery]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._stats = BridgeStats()
        self._stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=settings.workers, thread_name_prefix="event-bridge")
        self._loop = threading.Thread(target=self._run, name="event-bridge-poll", daemon=True)

    def start(self) -> EventBridge:
        self._seen = {_key(blob) for blob in self._list()}
        log.info(
            "watching gs://%s/%s* (%d objects already there, not announced) -> %s",
            self.settings.bucket,
            self.settings.prefix,
            len(self._seen),
            self.settings.target,
        )
        self._loop.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._loop.is_alive():
            self._loop.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            dropped = len(self._retries)
            self._retries.clear()
        if dropped:
            log.warning("stopped with %d deliveries still waiting to be retried", dropped)
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> EventBridge:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        with self._lock:
            self._stats.pending_retries = len(self._retries)
            return dict(vars(self._stats), by_outcome=dict(self._stats.by_outcome))

    def poll_once(self) -> int:
        """List the bucket once and hand every new object generation to the pool; returns how many."""
        with self._poll_lock:
            blobs = {_key(blob): blob for blob in self._list()}
            new = [blobs[key] for key in blobs.keys() - self._seen]
            # Keeping only what is listed now bounds memory; a new generation is a new key anyway.
            self._seen = set(blobs)
        for blob in sorted(new, key=lambda b: (b.time_created or datetime.min.replace(tzinfo=UTC), b.name)):
            headers, body = finalized_event(object_resource(blob))
            delivery = _Delivery(blob.name, str(blob.generation), headers, body, time.monotonic())
            with self._lock:
                self._stats.announced += 1
            self._submit(delivery)
        with self._lock:
            self._stats.listings += 1
        return len(new)

    def _submit(self, delivery: _Delivery) -> None:
        with self._lock:
            self._stats.in_flight += 1
        self._pool.submit(self._attempt, delivery)

    def _list(self) -> Iterable[storage.Blob]:
        return list(self._client.list_blobs(self.settings.bucket, prefix=self.settings.prefix or None))

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception as error:  # the emulator restarting must not end the bridge
                with self._lock:
                    self._stats.failed_polls += 1
                log.warning("listing gs://%s failed: %r", self.settings.bucket, error)
            self._submit_due_retries()
            self._stopping.wait(self._next_wait())

    def _next_wait(self) -> float:
        with self._lock:
            if not self._retries:
                return self.settings.interval
            return max(0.0, min(self.settings.interval, self._retries[0][0] - time.monotonic()))

    def _submit_due_retries(self) -> None:
        now = time.monotonic()
        due: list[_Delivery] = []
        with self._lock:
            while self._retries and self._retries[0][0] <= now:
                due.append(heapq.heappop(self._retries)[2])
        for delivery in due:
            self._submit(delivery)

    def _attempt(self, delivery: _Delivery) -> None:
        delivery.attempts += 1
        try:
            response = self._http.post(self.settings.target, headers=delivery.headers, content=delivery.body)
            outcome, succeeded = str(response.status_code), response.is_success
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            outcome, succeeded = type(error).__name__, False
        wait = backoff(delivery.attempts, self.settings.initial_backoff, self.settings.max_backoff)
        now = time.monotonic()
        gave_up = not succeeded and delivery.expired(self.settings, now, wait)
        with self._lock:
            self._stats.in_flight -= 1
            self._stats.attempts += 1
            self._stats.by_outcome[outcome] = self._stats.by_outcome.get(outcome, 0) + 1
            if succeeded:
                self._stats.delivered += 1
            elif gave_up:
                self._stats.gave_up += 1
            else:
                heapq.heappush(self._retries, (now + wait, next(self._order), delivery))
        fields = (delivery.headers["ce-id"], delivery.name, delivery.generation, delivery.attempts, outcome)
        extra = {
            "fields": {
                "event_id": delivery.headers["ce-id"],
                "object": delivery.name,
                "generation": delivery.generation,
                "attempt": delivery.attempts,
                "outcome": outcome,
            }
        }
        if succeeded:
            log.info("delivered event %s for %s#%s (attempt %d: %s)", *fields, extra=extra)
        elif gave_up:
            log.error("gave up on event %s for %s#%s after %d attempts (last: %s)", *fields, extra=extra)
        else:
            log.warning("event %s for %s#%s failed (attempt %d: %s); will retry", *fields, extra=extra)


def _key(blob: storage.Blob) -> tuple[str, str]:
    return blob.name, str(blob.generation)


def storage_client() -> storage.Client:
    """A client of the storage emulator; refusing to run without it keeps the bridge off real buckets."""
    if not os.environ.get("STORAGE_EMULATOR_HOST"):
        raise RuntimeError(
            "STORAGE_EMULATOR_HOST is not set: the event bridge only watches the storage emulator"
        )
    # With the emulator variable set the client uses anonymous credentials; the project only names it.
    return storage.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT", "imagebot-local"))


# -- running it ------------------------------------------------------------------------------------


def health_server(bridge: EventBridge, host: str, port: int) -> ThreadingHTTPServer:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path.split("?", 1)[0] != "/healthz":
                self.send_error(404)
                return
            body = json.dumps({"status": "ok", **bridge.stats()}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # readiness probes every 0.2 s would drown the log

    return ThreadingHTTPServer((host, port), Health)


class _JsonLines(logging.Formatter):
    """One JSON object a line with a `severity`, as Cloud Logging reads them."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "component": "event-bridge",
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local.event_bridge", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--target", required=True, help="URL of the function that receives the events")
    parser.add_argument(
        "--prefix", default="", help="only objects whose names start with this, e.g. outputs/"
    )
    parser.add_argument("--health-port", type=int, help="serve GET /healthz here once ready")
    parser.add_argument("--health-host", default="127.0.0.1")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between listings")
    parser.add_argument("--max-attempts", type=int, help="give up sooner (Eventarc has no cap)")
    parser.add_argument("--initial-backoff", type=float, default=EVENTARC.initial_backoff)
    parser.add_argument("--max-backoff", type=float, default=EVENTARC.max_backoff)
    parser.add_argument(
        "--retention", type=float, default=EVENTARC.retention, help="seconds an event is retried for"
    )
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args(argv)

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonLines())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    try:
        settings = BridgeSettings(
            bucket=args.bucket,
            target=args.target,
            prefix=args.prefix,
            interval=args.interval,
            max_attempts=args.max_attempts,
            initial_backoff=args.initial_backoff,
            max_backoff=args.max_backoff,
            retention=args.retention,
            workers=args.workers,
        )
    except ValueError as error:
        parser.error(str(error))
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    bridge = EventBridge(settings).start()
    health = (
        health_server(bridge, args.health_host, args.health_port) if args.health_port is not None else None
    )
    if health is not None:
        threading.Thread(target=health.serve_forever, name="event-bridge-health", daemon=True).start()
    try:
        while not stopping.wait(1.0):
            pass
    finally:
        if health is not None:
            health.shutdown()
            health.server_close()
        bridge.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
