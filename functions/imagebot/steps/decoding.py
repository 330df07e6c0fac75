"""One way to open a Pub/Sub event: decode its message, or drop it.

A message that cannot be decoded can never be processed, whatever the number of retries: it is
logged at ERROR (the error-rate alert counts it) and acknowledged. So is one whose user cannot
be reached (Telegram answered 403, or the chat is gone): its job, if it names one, closes at
once as `failed`, reason "unreachable", since no retry could ever reach them. Anything else
that fails after decoding raises, and Pub/Sub redelivers.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from imagebot.core.events import PubSubMessage
from imagebot.edges.telegram import TelegramError
from imagebot.logs import fields
from imagebot.ports import Services
from imagebot.steps.failure import close_unreachable

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R", bound=Services)

Handler = Callable[[T, PubSubMessage, R], None]


def decoded(
    data: Any, decode: Callable[[PubSubMessage], T], *, stage: str, what: str
) -> tuple[T, PubSubMessage] | None:
    """`decode(message)` and the message, or None (logged) for one that cannot be decoded."""
    try:
        message = PubSubMessage.from_event(data)
        return decode(message), message
    except ValueError as error:  # BadEvent, ContractError, MalformedUpdate, a bad encoding…
        log.error(f"dropping an undecodable {what}", extra=fields(stage=stage, error=str(error)[:500]))
        return None


def decode_or_drop(
    decode: Callable[[PubSubMessage], T],
    *,
    stage: str,
    what: str,
    job_of: Callable[[T, PubSubMessage], str | None] = lambda value, message: message.attributes.get(
        "job_id"
    ),
) -> Callable[[Handler[T, R]], Callable[[Any, R], None]]:
    """`handle(value, message, rt)` becomes the entry `(event.data, rt)`, with `value` the
    decoded message; one that cannot be decoded is dropped, and one whose user cannot be
    reached closes its job (`job_of`) and is acknowledged."""

    def wrap(handle: Handler[T, R]) -> Callable[[Any, R], None]:
        @functools.wraps(handle)
        def entry(data: Any, rt: R) -> None:
            opened = decoded(data, decode, stage=stage, what=what)
            if opened is None:
                return
            try:
                handle(opened[0], opened[1], rt)
            except TelegramError as error:
                if not error.user_unreachable:
                    raise
                close_unreachable(job_of(*opened), error, rt, stage=stage)

        return entry

    return wrap
