"""The local stack's Pub/Sub wiring on the real emulator: every push subscription is bounded."""

from __future__ import annotations

from collections import defaultdict

from google.cloud import pubsub_v1

from local.emulators import EmulatorHosts
from local.stack import stack_routes
from local.wiring import MAX_DELIVERY_ATTEMPTS, UNREPORTABLE_TOPIC, create_routes

# A project of its own on the shared emulator: these push endpoints answer nothing, and other
# tests' messages must not reach them, nor their dead letters other tests' taps.
PROJECT = "imagebot-wiring-test"


def test_every_push_subscription_has_a_dead_letter_topic_the_reports_included(
    emulators: EmulatorHosts,
) -> None:
    """A message no consumer can handle ends in a dead-letter topic after a few attempts, and so
    does a dead letter that report_failure cannot handle (a poison update would otherwise be
    retried for ever: issue 15)."""
    create_routes(
        PROJECT,
        stack_routes(defaultdict(lambda: "http://127.0.0.1:9")),
        dead_letter_endpoint="http://127.0.0.1:9",
    )
    subscriber = pubsub_v1.SubscriberClient()
    subscriptions = list(subscriber.list_subscriptions(request={"project": f"projects/{PROJECT}"}))
    pushed = {sub.name.rsplit("/", 1)[1]: sub for sub in subscriptions if sub.push_config.push_endpoint}

    assert {name for name in pushed if name.endswith("-dead-report")} == {
        "prompts-dead-report",
        "validated-dead-report",
        "generation-jobs-dead-report",
        "vertex-jobs-dead-report",
    }
    unbounded = [name for name, sub in pushed.items() if not sub.dead_letter_policy.dead_letter_topic]
    assert unbounded == []
    assert {sub.dead_letter_policy.max_delivery_attempts for sub in pushed.values()} == {
        MAX_DELIVERY_ATTEMPTS
    }
    reports = {
        pushed[name].dead_letter_policy.dead_letter_topic for name in pushed if name.endswith("-dead-report")
    }
    assert reports == {f"projects/{PROJECT}/topics/{UNREPORTABLE_TOPIC}"}
    kept = {sub.name.rsplit("/", 1)[1] for sub in subscriptions if not sub.push_config.push_endpoint}
    assert f"{UNREPORTABLE_TOPIC}-keep" in kept
