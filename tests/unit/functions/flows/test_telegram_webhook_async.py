import asyncio
import json
import threading
from concurrent.futures import Future

import pytest
from imagebot.config import Settings
from imagebot.core import inbound
from imagebot.flows import telegram_webhook
from imagebot.flows.telegram_webhook import (
    handle_request_async,
    handle_webhook_async,
    parse_body,
    reads_documents,
)

SETTINGS = Settings(project="p", bot_token="123456:TEST-TOKEN", webhook_secret="s3cret", images_bucket="b")


class FakePublisherClient:
    """The two calls of pubsub_v1.PublisherClient the webhook makes; each publish's future is
    kept for the test to confirm or fail."""

    def __init__(self):
        self.published = []
        self.futures = []

    def topic_path(self, project, topic):
        return f"projects/{project}/topics/{topic}"

    def publish(self, topic, data, **attributes):
        future = Future()
        self.published.append((topic, json.loads(data), attributes))
        self.futures.append(future)
        return future


def update(text, update_id=41):
    sender = {"id": 7, "is_bot": False, "first_name": "Ann", "language_code": "en"}
    message = {"message_id": 3, "date": 0, "chat": {"id": 7, "type": "private"}, "from": sender, "text": text}
    return json.dumps({"update_id": update_id, "message": message}).encode()


async def started(coroutine):
    """The coroutine as a task, run until it waits on something outside the loop."""
    task = asyncio.create_task(coroutine)
    for _ in range(5):
        await asyncio.sleep(0)
    return task


async def no_choice(user_id):
    return {}


def test_a_prompt_is_answered_only_once_its_publish_is_confirmed():
    client = FakePublisherClient()

    async def scenario():
        task = await started(
            handle_webhook_async(update("a fox in the snow"), "s3cret", SETTINGS, client, no_choice)
        )
        waiting = not task.done()
        client.futures[0].set_result("message-1")
        return waiting, await task

    waiting, reply = asyncio.run(scenario())
    assert waiting
    assert reply.status == 200
    [(topic, _, attributes)] = client.published
    assert topic == "projects/p/topics/prompts" and attributes["update_id"] == "41"


def test_a_failed_publish_fails_the_request_so_telegram_sends_it_again():
    client = FakePublisherClient()

    async def scenario():
        task = await started(
            handle_webhook_async(update("a fox in the snow"), "s3cret", SETTINGS, client, no_choice)
        )
        client.futures[0].set_exception(RuntimeError("pubsub unavailable"))
        return await task

    with pytest.raises(RuntimeError, match="pubsub unavailable"):
        asyncio.run(scenario())


def test_a_wrong_secret_is_refused_before_anything_is_published():
    client = FakePublisherClient()
    reply = asyncio.run(handle_webhook_async(update("a fox"), "wrong", SETTINGS, client, no_choice))
    assert reply.status == 401 and client.published == []


def test_start_is_answered_in_the_response_with_its_language_read_on_the_loop():
    client = FakePublisherClient()
    readers = []

    async def language_of(user_id):
        readers.append((user_id, threading.current_thread()))
        return {"language": "ru"}

    reply = asyncio.run(handle_webhook_async(update("/start"), "s3cret", SETTINGS, client, language_of))
    assert reply.status == 200 and reply.body["method"] == "sendMessage"
    assert reply.body["text"].startswith("Привет, Ann!")
    assert readers == [(7, threading.main_thread())]  # awaited: the loop is free meanwhile
    assert client.published == []


@pytest.mark.parametrize("failure", [TimeoutError, RuntimeError("firestore unavailable")])
def test_start_is_answered_in_the_app_language_when_the_read_fails_or_is_slow(failure, monkeypatch):
    monkeypatch.setattr(telegram_webhook, "USER_READ_TIMEOUT_SECONDS", 0.05)

    async def broken(user_id):
        if failure is TimeoutError:
            await asyncio.sleep(5)  # past the timeout, which ends it
        raise failure

    client = FakePublisherClient()
    reply = asyncio.run(handle_webhook_async(update("/start"), "s3cret", SETTINGS, client, broken))
    assert reply.status == 200 and reply.body["text"].startswith("Hi, Ann!")


def test_no_other_update_reads_the_user():
    async def never(user_id):
        raise AssertionError("read")

    client = FakePublisherClient()

    async def scenario():
        task = await started(handle_webhook_async(update("/limits"), "s3cret", SETTINGS, client, never))
        client.futures[0].set_result("m")
        return await task

    assert asyncio.run(scenario()).status == 200


def reads_first(body: dict) -> bool:
    return reads_documents(parse_body(json.dumps(body).encode(), SETTINGS))


def press(chat_id: int, data: str) -> dict:
    message = {"message_id": 5, "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"}}
    query = {"id": "q", "from": {"id": 7}, "data": data, "message": message}
    return {"update_id": 9, "callback_query": query}


def test_only_what_reads_a_document_through_the_lookups_is_sent_to_a_thread():
    assert not reads_first(json.loads(update("/start")))  # its user's settings: read on the loop
    assert not reads_first(json.loads(update("/pixel a cat in a hat")))
    assert not reads_first(json.loads(update("a cat in a hat")))
    assert not reads_first(json.loads(update("/limits")))  # the worker's: published, not read here
    assert reads_first({"update_id": 9, "inline_query": {"id": "i", "from": {"id": 7}, "query": "a cat"}})
    # A requester-only press: read in a group (whose job?), not in the requester's private chat.
    assert reads_first(press(-100, "again:u1")) and not reads_first(press(7, "again:u1"))
    assert not reads_first(press(-100, "default:pixel"))  # anyone's own setting: no job to check


class Chunks:
    """An ASGI request body as Starlette streams it, counting what the handler pulled."""

    def __init__(self, chunks):
        self._chunks = list(chunks)
        self.pulled = 0

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self.pulled == len(self._chunks):
            raise StopAsyncIteration
        self.pulled += 1
        return self._chunks[self.pulled - 1]


def test_the_async_entry_refuses_a_large_or_unauthorised_body_before_reading_it():
    client = FakePublisherClient()
    big = str(inbound.MAX_BODY_BYTES + 1)
    for length, secret, status in ((big, "s3cret", 413), (None, "wrong", 401), (None, None, 401)):
        body = Chunks([b"{}"])
        reply = asyncio.run(handle_request_async(body, length, secret, SETTINGS, client, no_choice))
        assert (reply.status, reply.body_read, body.pulled) == (status, False, 0)
    assert client.published == []


def test_the_async_entry_stops_reading_one_chunk_past_the_limit():
    client = FakePublisherClient()
    chunk = b"x" * inbound.READ_CHUNK_BYTES
    endless = Chunks([chunk] * (2 * inbound.MAX_BODY_BYTES // len(chunk)))
    reply = asyncio.run(handle_request_async(endless, None, "s3cret", SETTINGS, client, no_choice))
    assert reply.status == 413 and client.published == []
    assert endless.pulled == inbound.MAX_BODY_BYTES // len(chunk) + 1


def test_the_async_entry_reads_a_chunked_update_and_publishes_it():
    client = FakePublisherClient()
    raw = update("a fox in the snow")
    body = Chunks([raw[:10], raw[10:]])

    async def scenario():
        task = await started(handle_request_async(body, str(len(raw)), "s3cret", SETTINGS, client, no_choice))
        client.futures[0].set_result("message-1")
        return await task

    reply = asyncio.run(scenario())
    assert reply.status == 200 and len(client.published) == 1
