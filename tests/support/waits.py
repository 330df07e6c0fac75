"""Waiting for recorded events, never for a length of time.

A fixed sleep before asserting "nothing more came" passes on a loaded machine when it should
fail: the duplicate was simply slower than the sleep. These waits end on what the stack records
instead: a job's final state in Firestore, the requests a function has answered
(local/function_host.py), the event bridge's listings and deliveries (its /healthz), and the
calls the fake Bot API is still answering. On a slow machine they wait longer; on a fast one,
not at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from local.stack import LocalStack
from tests.support.pubsub import TopicTap

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float, what: str, interval: float = 0.1) -> T:
    """The first truthy value of `condition()`; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"not within {timeout:.0f}s: {what}"
        time.sleep(interval)
    return value


def answered(
    stack: LocalStack, target: str, count: int, timeout: float = 60.0, **attributes: str
) -> list[dict[str, Any]]:
    """Wait until the function `target` has acknowledged (2xx) `count` Pub/Sub messages carrying
    these attributes (e.g. job_id=…, update_id=…); those requests. Once it has, whatever those
    messages made it do (a Bot API call, a publish) is done and recorded."""

    def acknowledged() -> list[dict[str, Any]]:
        found = [
            request
            for request in stack.requests(target)["requests"]
            if request["status"] < 300
            and all(request.get("attributes", {}).get(key) == value for key, value in attributes.items())
        ]
        return found if len(found) >= count else []

    return wait_until(acknowledged, timeout, f"{target} acknowledging {count} × {attributes}")


def published(tap: TopicTap, *update_ids: int, others: int = 0) -> list[str]:
    """The update ids among `update_ids` that the webhook published (tap: a TopicTap on
    `prompts` made before they were sent; `others`: how many messages for other updates it
    publishes meanwhile). The webhook publishes before it answers, so the message of an update
    already answered is stored: the drain ends as soon as one more than expected is there, and
    otherwise gives the emulator a few seconds to hand over what it holds."""
    wanted = {str(update_id) for update_id in update_ids}
    messages = tap.drain(expect=others + 1, timeout=3.0)
    return sorted(m.attributes["update_id"] for m in messages if m.attributes.get("update_id") in wanted)


def nothing_more_for(stack: LocalStack, final: Callable[[], Any], timeout: float = 60.0) -> None:
    """Wait for the recorded events after which nothing more can come for a job: `final()`
    holds (the job is in a final state); the event bridge has taken two listings since (so it
    has seen every output written before); and nothing in the stack is at work (no function
    answering a request, no delivery under way or due, no Bot API call being answered: a held
    sendPhoto is on its way). A second photo from a duplicate event is recorded by then."""
    wait_until(final, timeout, "the job final")
    listings = stack.bridge_stats()["listings"] + 2
    wait_until(lambda: stack.bridge_stats()["listings"] >= listings, timeout, "two more listings")
    stack.wait_idle(timeout)
