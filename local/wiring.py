"""Topics and push subscriptions of the local stack: the same shape terraform/ gives the cloud.

Each route is a topic, the push endpoint that consumes it, and a dead-letter topic (with a pull
subscription, so dead letters are kept for inspection).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from google.api_core.exceptions import AlreadyExists
from google.cloud import pubsub_v1

MAX_DELIVERY_ATTEMPTS = 5
# What even report_failure cannot handle ends here, kept, as in terraform/pubsub.tf: a dead
# letter that fails its report must not be retried for ever (a poison update would be).
UNREPORTABLE_TOPIC = "report-failure-dead"


@dataclass(frozen=True)
class Route:
    topic: str
    subscription: str
    push_endpoint: str
    ack_deadline_seconds: int = 60
    # Redelivery backoff after a nack, a failed push or an expired deadline. Short by default so
    # that local retries are quick; a route may take the cloud's longer one (terraform/pubsub.tf).
    minimum_backoff_seconds: int = 1
    maximum_backoff_seconds: int = 30
    # Dead letters pushed to report_failure, which fails their job: not for a message whose loss
    # leaves the job whole (terraform/pubsub.tf, failure_reported).
    dead_letters_fail_the_job: bool = True

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.topic}-dead"


def create_routes(project: str, routes: list[Route], dead_letter_endpoint: str | None = None) -> None:
    """Topics, push subscriptions and dead-letter topics; dead letters are kept for inspection
    and, given an endpoint (report_failure), pushed there too."""
    publisher = pubsub_v1.PublisherClient()
    subscriber = pubsub_v1.SubscriberClient()
    unreportable = publisher.topic_path(project, UNREPORTABLE_TOPIC)
    if dead_letter_endpoint:
        with contextlib.suppress(AlreadyExists):
            publisher.create_topic(name=unreportable)
        with contextlib.suppress(AlreadyExists):
            subscriber.create_subscription(
                request={
                    "name": subscriber.subscription_path(project, f"{UNREPORTABLE_TOPIC}-keep"),
                    "topic": unreportable,
                }
            )
    for route in routes:
        for topic in (route.topic, route.dead_letter_topic):
            with contextlib.suppress(AlreadyExists):
                publisher.create_topic(name=publisher.topic_path(project, topic))
        subscriptions = {
            route.subscription: {
                "topic": publisher.topic_path(project, route.topic),
                "push_config": {"push_endpoint": route.push_endpoint},
                "ack_deadline_seconds": route.ack_deadline_seconds,
                "retry_policy": {
                    "minimum_backoff": {"seconds": route.minimum_backoff_seconds},
                    "maximum_backoff": {"seconds": route.maximum_backoff_seconds},
                },
                "dead_letter_policy": {
                    "dead_letter_topic": publisher.topic_path(project, route.dead_letter_topic),
                    "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
                },
            },
            f"{route.dead_letter_topic}-keep": {
                "topic": publisher.topic_path(project, route.dead_letter_topic)
            },
        }
        if dead_letter_endpoint and route.dead_letters_fail_the_job:
            subscriptions[f"{route.dead_letter_topic}-report"] = {
                "topic": publisher.topic_path(project, route.dead_letter_topic),
                "push_config": {"push_endpoint": dead_letter_endpoint},
                "retry_policy": {"minimum_backoff": {"seconds": 1}, "maximum_backoff": {"seconds": 30}},
                "dead_letter_policy": {
                    "dead_letter_topic": unreportable,
                    "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS,
                },
            }
        for name, spec in subscriptions.items():
            with contextlib.suppress(AlreadyExists):
                subscriber.create_subscription(
                    request={"name": subscriber.subscription_path(project, name), **spec}
                )
