"""telegram_webhook under functions-framework, over real HTTP, publishing to the Pub/Sub emulator."""

from __future__ import annotations

import itertools
import json

import httpx
import pytest
from imagebot.core import keyboards
from imagebot.core.updates import Button, Prompt, decode_event

from tests.conftest import PROJECT
from tests.integration.functions.conftest import TOPICS, WEBHOOK_SECRET
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
    assert "only draw from text" in post(webhook_url, sticker).json()["text"]
    edited = {"update_id": next(_update_ids), "edited_message": text_update("changed")["message"]}
    response = post(webhook_url, edited)
    assert response.status_code == 200 and response.json() == {}
    assert prompts.quiet() == []
