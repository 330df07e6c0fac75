"""telegram_webhook under functions-framework, over real HTTP, publishing to the Pub/Sub emulator."""

from __future__ import annotations

import http.client
import itertools
import json
from urllib.parse import urlsplit

import httpx
import pytest
from google.cloud import firestore
from imagebot.core import inbound, keyboards
from imagebot.core.jobs import State
from imagebot.core.updates import TEXT_MAX_CHARS, Button, Prompt, decode_event
from imagebot.flows import validate_prompt

from tests.conftest import PROJECT
from tests.integration.functions.conftest import TOPICS, WEBHOOK_SECRET
from tests.support.bodies import nested
from tests.support.events import pubsub_event_data
from tests.support.pubsub import TopicTap

_update_ids = itertools.count(7_000_000)
USER = {"id": 42, "is_bot": False, "first_name": "Ann", "language_code": "en"}
CHAT = {"id": 42, "type": "private"}


def text_update(text: str, **extra) -> dict:
    return {
        "update_id": next(_update_ids),
        "message": {"message_id": 3, "date": 0, "chat": CHAT, "from": USER, "text": text, **extra},
    }


@pytest.fixture
def prompts(emulators) -> TopicTap:
    return TopicTap(PROJECT, TOPICS["PROMPTS_TOPIC"])


def post(url: str, body: bytes | dict, secret: str | None = WEBHOOK_SECRET) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(url, content=content, headers=headers, timeout=10)


def test_a_prompt_is_published_once_and_acknowledged(webhook_url, prompts):
    update = text_update("a lighthouse at dusk")
    response = post(webhook_url, update)
    assert response.status_code == 200
    messages = prompts.drain(expect=1)
    assert len(messages) == 1
    event = decode_event(messages[0].data)
    assert isinstance(event, Prompt)
    assert (event.update_id, event.text, event.chat_id) == (update["update_id"], "a lighthouse at dusk", 42)
    assert messages[0].attributes["update_id"] == str(update["update_id"])
    assert prompts.quiet(0.5) == []


@pytest.mark.parametrize("secret", [None, "", "wrong-secret", WEBHOOK_SECRET + "x"])
def test_a_wrong_secret_is_refused_and_nothing_is_published(webhook_url, prompts, secret):
    response = post(webhook_url, text_update("sneaky"), secret=secret)
    assert response.status_code == 401
    assert "sneaky" not in response.text and WEBHOOK_SECRET not in response.text
    assert prompts.quiet() == []


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"update_id": "x"}', b"\xff\xfe"])
def test_malformed_updates_get_400_and_the_server_keeps_serving(webhook_url, prompts, body):
    assert post(webhook_url, body).status_code == 400
    assert post(webhook_url, {"update_id": next(_update_ids)}).status_code == 200
    assert prompts.quiet(0.5) == []


def test_start_is_answered_in_the_webhook_response(webhook_url, prompts):
    response = post(webhook_url, text_update("/start"))
    assert response.status_code == 200
    reply = response.json()
    assert reply["method"] == "sendMessage" and reply["chat_id"] == 42
    assert reply["text"].startswith("Hi, Ann!")
    assert prompts.quiet(0.5) == []


def test_start_reads_the_users_own_settings_from_firestore(webhook_url, prompts):
    """The read the webhook makes on its event loop (Firestore's asyncio client), for real."""
    user = {**USER, "id": 4242}
    firestore.Client(project=PROJECT).collection("users").document("4242").set(
        {"language": "ru", "default_style": "pixel"}
    )
    update = text_update("/start")
    update["message"] |= {"from": user, "chat": {"id": 4242, "type": "private"}}
    reply = post(webhook_url, update).json()
    assert reply["text"].startswith("Привет, Ann!")
    ticked = [b["text"] for row in reply["reply_markup"]["inline_keyboard"] for b in row if "✓" in b["text"]]
    assert len(ticked) == 1 and "Pixel" in ticked[0]
    assert prompts.quiet(0.5) == []


def test_a_style_press_is_published_and_answered_at_once(webhook_url, prompts):
    update = {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": "cbq-1",
            "from": USER,
            "message": {"message_id": 4, "date": 0, "chat": CHAT},
            "data": keyboards.encode("style", "ghibli", "u123"),
        },
    }
    reply = post(webhook_url, update).json()
    assert reply == {"method": "answerCallbackQuery", "callback_query_id": "cbq-1", "text": "Ghibli Art ✓"}
    (message,) = prompts.drain(expect=1)
    event = decode_event(message.data)
    assert isinstance(event, Button) and (event.action, event.args) == ("style", ("ghibli", "u123"))


def test_stickers_get_a_hint_and_edits_are_ignored(webhook_url, prompts):
    sticker = {
        "update_id": next(_update_ids),
        "message": {"message_id": 5, "date": 0, "chat": CHAT, "from": USER, "sticker": {"file_id": "s"}},
    }
    assert "or from a photo" in post(webhook_url, sticker).json()["text"]
    edited = {"update_id": next(_update_ids), "edited_message": text_update("changed")["message"]}
    response = post(webhook_url, edited)
    assert response.status_code == 200 and response.json() == {}
    assert prompts.quiet() == []


def style_press(callback_id: str, job_id: str) -> dict:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": callback_id,
            "from": USER,
            "message": {"message_id": 4, "date": 0, "chat": CHAT},
            "data": keyboards.encode("style", "pixel", job_id),
        },
    }


def test_json_nested_10000_deep_gets_400_and_the_server_keeps_serving(webhook_url, prompts):
    assert post(webhook_url, nested(10_000)).status_code == 400
    assert post(webhook_url, b'{"update_id": 1, "message": ' + nested(10_000) + b"}").status_code == 400
    assert post(webhook_url, {"update_id": next(_update_ids)}).status_code == 200
    assert prompts.quiet(0.5) == []


def test_lone_surrogates_in_a_prompt_and_a_callback_id_are_replaced_all_the_way_to_firestore(
    webhook_url, prompts, runtime, telegram
):
    update = text_update("a cat \ud800 in a hat")
    assert b"\\ud800" in json.dumps(update).encode()  # on the wire as JSON's escape
    assert post(webhook_url, update).status_code == 200
    (message,) = prompts.drain(expect=1)
    assert decode_event(message.data).text == "a cat \ufffd in a hat"
    validate_prompt.handle_message(pubsub_event_data(message.data), runtime)
    job_id = f"u{update['update_id']}"
    job = runtime.jobs.get_job(job_id)
    assert (job.state, job.prompt) == (State.AWAITING_STYLE, "a cat \ufffd in a hat")

    reply = post(webhook_url, style_press("cbq-\udfff", job_id)).json()
    assert reply["callback_query_id"] == "cbq-\ufffd"
    (press,) = prompts.drain(expect=1)
    validate_prompt.handle_message(pubsub_event_data(press.data), runtime)
    assert runtime.jobs.get_job(job_id).state == State.VALIDATED


def test_a_10_mb_prompt_gets_413_and_nothing_is_published(webhook_url, prompts):
    response = post(webhook_url, text_update("a" * 10_000_000))
    assert response.status_code == 413
    assert response.json() == {"error": f"body over {inbound.MAX_BODY_BYTES} bytes"}
    assert prompts.quiet(0.5) == []


def test_a_text_longer_than_telegram_sends_gets_400_and_a_long_prompt_is_told_too_long(
    webhook_url, prompts, runtime, telegram
):
    assert post(webhook_url, text_update("a" * (TEXT_MAX_CHARS + 1))).status_code == 400
    assert prompts.quiet(0.5) == []

    update = text_update("a" * 4096)  # Telegram's own most: published, and refused with a reason
    assert post(webhook_url, update).status_code == 200
    (message,) = prompts.drain(expect=1)
    validate_prompt.handle_message(pubsub_event_data(message.data), runtime)
    assert runtime.jobs.get_job(f"u{update['update_id']}").reason == "too_long"
    (told,) = telegram.calls("sendMessage")
    assert "too long" in told.params["text"]


def open_request(url: str, headers: dict[str, str]) -> http.client.HTTPConnection:
    """A POST whose headers are sent and whose body is not (yet): what the server does now
    shows whether it waits for the body."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.putrequest("POST", "/")
    for name, value in {"Content-Type": "application/json", **headers}.items():
        connection.putheader(name, value)
    connection.endheaders()
    return connection


def test_a_50_mb_body_with_a_wrong_secret_gets_413_before_it_is_sent(webhook_url, prompts):
    connection = open_request(
        webhook_url, {"Content-Length": str(50 * 2**20), "X-Telegram-Bot-Api-Secret-Token": "wrong"}
    )
    connection.send(b"{" + b" " * 65_535)  # the first 64 KiB of 50 MiB, and no more
    # Were the server waiting for the rest, this would time out (10 s) instead.
    assert connection.getresponse().status == 413
    connection.close()
    # The same body sent in full is refused the same way.
    assert post(webhook_url, b" " * (50 * 2**20), secret="wrong").status_code == 413
    assert prompts.quiet(0.5) == []


def send_chunks(connection: http.client.HTTPConnection, size: int) -> None:
    chunk = b" " * 65_536
    for _ in range(size // len(chunk)):
        connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))


def test_a_chunked_body_is_read_no_further_than_the_limit_and_not_at_all_with_a_wrong_secret(
    webhook_url, prompts
):
    wrong = open_request(
        webhook_url, {"Transfer-Encoding": "chunked", "X-Telegram-Bot-Api-Secret-Token": "x"}
    )
    assert wrong.getresponse().status == 401  # without a byte of the body
    wrong.close()
    right = open_request(
        webhook_url, {"Transfer-Encoding": "chunked", "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    )
    send_chunks(right, inbound.MAX_BODY_BYTES + 2 * inbound.READ_CHUNK_BYTES)  # and never the last chunk
    assert right.getresponse().status == 413
    right.close()
    assert prompts.quiet(0.5) == []


def test_an_update_id_of_2_to_the_70_gets_400_and_is_never_published(webhook_url, prompts):
    update = text_update("a lighthouse")
    update["update_id"] = 2**70
    assert post(webhook_url, update).status_code == 400
    update["update_id"] = next(_update_ids)
    update["message"]["chat"] = {**CHAT, "id": 2**70}
    assert post(webhook_url, update).status_code == 400
    assert prompts.quiet(0.5) == []
