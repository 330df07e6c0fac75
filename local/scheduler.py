"""Cloud Scheduler for the local stack: publish a message to a Pub/Sub topic on a fixed period.

In the cloud, Cloud Scheduler publishes to the `sweep` topic on `sweep_schedule`
(terraform/pubsub.tf) and the push subscription runs `sweep_stuck_jobs`; locally this process
publishes to the same topic of the Pub/Sub emulator, so the sweep runs the same way. The first
message goes out one period after the start, as a cron job's first run comes at its first tick.

    python -m local.scheduler --project P --topic sweep --period 300 [--data sweep]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from types import FrameType

from google.cloud import pubsub_v1


def log(severity: str, message: str, **fields: object) -> None:
    """One JSON object a line, as the stack's other stand-ins log."""
    entry = {"severity": severity, "message": message, "component": "scheduler", **fields}
    print(json.dumps(entry), file=sys.stderr, flush=True)


def run(project: str, topic: str, period: float, data: bytes, stopping: threading.Event) -> int:
    """Publish every `period` seconds until `stopping` is set; returns how many went out."""
    if not os.environ.get("PUBSUB_EMULATOR_HOST"):
        raise RuntimeError("PUBSUB_EMULATOR_HOST is not set: the local scheduler only publishes to it")
    publisher = pubsub_v1.PublisherClient()
    path = publisher.topic_path(project, topic)
    published = 0
    while not stopping.wait(period):
        try:
            message_id = publisher.publish(path, data).result(timeout=30)
        except Exception as error:  # Cloud Scheduler logs a failed run and tries at the next tick
            log("WARNING", "publish failed", topic=topic, error=repr(error))
            continue
        published += 1
        log("INFO", "published", topic=topic, message_id=message_id, run=published)
    return published


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.scheduler", description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--period", type=float, required=True, help="seconds between messages")
    parser.add_argument("--data", default="sweep", help="the message body (as terraform/pubsub.tf)")
    args = parser.parse_args(argv)
    if args.period <= 0:
        parser.error("--period must be positive")
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log("INFO", "scheduled", topic=args.topic, period_seconds=args.period)
    run(args.project, args.topic, args.period, args.data.encode(), stopping)
    return 0


if __name__ == "__main__":
    sys.exit(main())
