"""The Telegram webhook on an event loop (functions_framework.aio: Starlette under uvicorn).

The same work as the threaded one, by the same code: `webhook.handle_webhook` checks the secret
in constant time, parses, decides and starts the publish; here the publish is not waited for in
a thread but awaited on the loop, and the answer goes out only once Pub/Sub has confirmed every
message (nothing may run after the response in Cloud Functions). One event loop serves every
connection Telegram opens, so no request holds a thread while its publish is in flight.

/start and /help are answered in the response after a Firestore read of the user's language;
that read blocks, so an update that may be such a command runs in a worker thread instead of on
the loop (`may_answer_itself`, a cheap look at the bytes: a wrong guess only costs a thread hop).
"""

from __future__ import annotations

import asyncio
import functools
import re
from concurrent.futures import Future

from google.cloud import pubsub_v1

from imagebot.bus import PUBLISH_TIMEOUT_SECONDS, Publisher
from imagebot.config import Settings
from imagebot.webhook import LanguageOf, WebhookReply, handle_webhook

# A message whose whole text is a command ("/start", "/help@bot"), in Telegram's compact JSON or
# with spaces: the updates answered here after the language read. Not a parser: it only says
# where to run the real one (a "/start payload" misses it and reads on the loop, still right).
_BARE_COMMAND = re.compile(rb'"text"\s*:\s*"/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?"')


class PendingPublishes(Publisher):
    """A Publisher for one update: `publish` starts the send and keeps its future;
    `confirmed()` waits on the loop until the server has stored every message."""

    def __init__(self, client: pubsub_v1.PublisherClient, project: str) -> None:
        super().__init__(client, project)
        self._futures: list[Future[str]] = []

    def publish(self, topic: str, data: bytes, **attributes: str) -> str:
        topic_path = self._client.topic_path(self._project, topic)
        self._futures.append(self._client.publish(topic_path, data, **attributes))
        return ""  # the message id comes with the confirmation

    async def confirmed(self, timeout: float = PUBLISH_TIMEOUT_SECONDS) -> list[str]:
        waits = [asyncio.wrap_future(future) for future in self._futures]
        return [str(message_id) for message_id in await asyncio.wait_for(asyncio.gather(*waits), timeout)]


@functools.cache
def publisher_client() -> pubsub_v1.PublisherClient:
    """One client per instance, made on the first update (its batching thread serves all)."""
    return pubsub_v1.PublisherClient()


def may_answer_itself(raw: bytes) -> bool:
    return _BARE_COMMAND.search(raw) is not None


async def handle_webhook_async(
    raw: bytes,
    secret: str | None,
    settings: Settings,
    client: pubsub_v1.PublisherClient,
    language_of: LanguageOf,
) -> WebhookReply:
    """`handle_webhook`'s answer, given only after its publish (if any) is confirmed; a failed
    or late publish raises, and the framework answers 500, so Telegram sends the update again."""
    publishes = PendingPublishes(client, settings.project)
    if may_answer_itself(raw):
        reply = await asyncio.to_thread(handle_webhook, raw, secret, settings, publishes, language_of)
    else:
        reply = handle_webhook(raw, secret, settings, publishes, language_of)
    await publishes.confirmed()
    return reply
