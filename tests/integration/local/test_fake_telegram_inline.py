"""Inline mode over real HTTP: inline queries, answerInlineQuery's rules, chosen results and their edits."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from local.fake_telegram import FakeTelegramConfig, FakeTelegramServer
from local.fake_telegram_client import FakeTelegram, FakeTelegramError
from tests.support.images import png

from .conftest import SECRET, TOKEN, Answer, Received, Receiver

KEYBOARD = {"inline_keyboard": [[{"text": "Drawing…", "callback_data": "noop"}]]}


def set_webhook(http: httpx.Client, server: FakeTelegramServer, receiver: Receiver) -> None:
    allowed = ["message", "inline_query", "chosen_inline_result", "callback_query"]
    answer = http.post(
        f"{server.api_url}/setWebhook",
        json={"url": receiver.url, "secret_token": SECRET, "allowed_updates": allowed},
    )
    assert answer.json()["ok"] is True


@pytest.fixture
def webhook(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, make_receiver: Callable[..., Receiver]
) -> Iterator[Receiver]:
    receiver = make_receiver()
    set_webhook(http, fake_telegram_server, receiver)
    yield receiver


def answer(
    http: httpx.Client, server: FakeTelegramServer, query_id: str, results: Any, **extra: Any
) -> httpx.Response:
    return http.post(
        f"{server.api_url}/answerInlineQuery", json={"inline_query_id": query_id, "results": results, **extra}
    )


def article(result_id: str, text: str = "draw a fox", **extra: Any) -> dict[str, Any]:
    return {
        "type": "article",
        "id": result_id,
        "title": text,
        "input_message_content": {"message_text": text},
        **extra,
    }


def a_photo_file_id(http: httpx.Client, server: FakeTelegramServer) -> str:
    sent = http.post(
        f"{server.api_url}/sendPhoto", data={"chat_id": "7"}, files={"photo": ("a.png", png(64, 48))}
    )
    file_id: str = sent.json()["result"]["photo"][-1]["file_id"]
    return file_id


def test_an_inline_query_reaches_the_webhook_and_its_answer_is_readable(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    sent = telegram.send_inline_query(42, "a fox in snow", offset="", chat_type="group", language_code="en")

    update = json.loads(webhook.received[-1].body)
    query = update["inline_query"]
    assert sent.delivery.status == 200
    assert update["update_id"] == sent.delivery.update_id
    assert query["id"] == sent.inline_query_id
    assert (query["query"], query["offset"], query["chat_type"]) == ("a fox in snow", "", "group")
    assert query["from"]["id"] == 42
    assert telegram.inline_answer(sent.inline_query_id) is None

    results = [
        article("draw:ghibli"),
        {"type": "photo", "id": "h1", "photo_file_id": a_photo_file_id(http, fake_telegram_server)},
    ]
    first = answer(http, fake_telegram_server, sent.inline_query_id, results, cache_time=0, is_personal=True)
    again = answer(http, fake_telegram_server, sent.inline_query_id, results)

    assert first.json() == {"ok": True, "result": True}
    assert again.status_code == 400
    assert again.json()["description"] == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    assert telegram.wait_for_inline_answer(sent.inline_query_id) == results


def test_an_inline_query_can_be_answered_in_the_webhook_response(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    make_receiver: Callable[..., Receiver],
) -> None:
    def answer_in_response(received: Received) -> Answer:
        query_id = json.loads(received.body)["inline_query"]["id"]
        body = {"method": "answerInlineQuery", "inline_query_id": query_id, "results": [article("r1")]}
        return 200, json.dumps(body), "application/json"

    set_webhook(http, fake_telegram_server, make_receiver(answer_in_response))

    sent = telegram.send_inline_query(42, "fox")

    assert sent.delivery.reply is not None and sent.delivery.reply.ok
    assert telegram.inline_answer(sent.inline_query_id) == [article("r1")]


def test_an_unknown_or_expired_query_cannot_be_answered(
    make_receiver: Callable[..., Receiver], http: httpx.Client
) -> None:
    # With no time at all to answer, every answer comes too late.
    with FakeTelegramServer(FakeTelegramConfig(token=TOKEN, inline_query_timeout=0.0)) as server:
        set_webhook(http, server, make_receiver())
        with FakeTelegram(server.base_url) as telegram:
            sent = telegram.send_inline_query(42, "fox")

        late = answer(http, server, sent.inline_query_id, [article("r1")])
        unknown = answer(http, server, "123", [article("r1")])

    too_old = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    assert (late.status_code, late.json()["description"]) == (400, too_old)
    assert (unknown.status_code, unknown.json()["description"]) == (400, too_old)


@pytest.mark.parametrize(
    ("results", "description"),
    [
        ([article(f"r{n}") for n in range(51)], "Bad Request: RESULTS_TOO_MUCH"),
        ([article("same"), article("same")], "Bad Request: RESULT_ID_DUPLICATE"),
        ([article("x" * 65)], "Bad Request: RESULT_ID_INVALID"),
        ([article("")], "Bad Request: RESULT_ID_INVALID"),
        ([article("é" * 33)], "Bad Request: RESULT_ID_INVALID"),  # 66 bytes in UTF-8
        (
            [{"type": "article", "title": "t", "input_message_content": {"message_text": "t"}}],
            "Bad Request: can't parse inline query result: Can't find field \"id\"",
        ),
        (
            [{"type": "photo", "id": "p", "photo_url": "https://example.com/p.jpg"}],
            "Bad Request: can't parse inline query result: Can't find field \"thumbnail_url\"",
        ),
        (
            [{"type": "photo", "id": "p", "photo_file_id": "AgACnope"}],
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        (
            [{"type": "article", "id": "a", "title": "t"}],
            "Bad Request: can't parse inline query result: Can't find field \"input_message_content\"",
        ),
        (
            [article("a", reply_markup={"inline_keyboard": [[{"text": "x"}]]})],
            "Bad Request: can't parse inline keyboard button: "
            "Text buttons are unallowed in the inline keyboard",
        ),
        ("not a list", "Bad Request: can't parse inline query results JSON object"),
    ],
)
def test_answer_inline_query_refuses_what_telegram_refuses_and_the_query_stays_open(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    webhook: Receiver,
    results: Any,
    description: str,
) -> None:
    sent = telegram.send_inline_query(42, "fox")

    refused = answer(http, fake_telegram_server, sent.inline_query_id, results)
    then_good = answer(http, fake_telegram_server, sent.inline_query_id, [article("ok")])

    assert refused.status_code == 400
    assert refused.json()["description"] == description
    assert then_good.json()["ok"] is True


def test_fifty_results_with_64_byte_ids_are_accepted(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    sent = telegram.send_inline_query(42, "fox")
    results = [article(f"{n:02d}" + "x" * 62) for n in range(50)]

    assert answer(http, fake_telegram_server, sent.inline_query_id, results).json()["ok"] is True


def test_a_chosen_result_with_a_keyboard_is_placed_and_edited_by_its_inline_message_id(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    api = fake_telegram_server.api_url
    placeholder_id = a_photo_file_id(http, fake_telegram_server)
    sent = telegram.send_inline_query(42, "fox")
    result = {
        "type": "photo",
        "id": "draw:pixel",
        "photo_file_id": placeholder_id,
        "caption": "drawing…",
        "reply_markup": KEYBOARD,
    }
    answer(http, fake_telegram_server, sent.inline_query_id, [result])

    chosen = telegram.choose_inline_result(42, sent.inline_query_id, "draw:pixel", chat_id=-100123)

    update = json.loads(webhook.received[-1].body)["chosen_inline_result"]
    assert chosen.delivery.status == 200
    assert update == {
        "result_id": "draw:pixel",
        "from": {"id": 42, "is_bot": False, "first_name": "Test"},
        "query": "fox",
        "inline_message_id": chosen.inline_message_id,
    }
    placed = chosen.message
    assert placed["chat"]["id"] == -100123
    assert placed["via_bot"]["id"] == 123456 and placed["from"]["id"] == 42
    assert (placed["photo"][-1]["file_id"], placed["caption"], placed["reply_markup"]) == (
        placeholder_id,
        "drawing…",
        KEYBOARD,
    )

    uploaded = http.post(
        f"{api}/editMessageMedia",
        data={
            "inline_message_id": chosen.inline_message_id,
            "media": json.dumps({"type": "photo", "media": "attach://done"}),
        },
        files={"done": ("done.png", png(128, 128), "image/png")},
    ).json()
    # The finished picture is sent somewhere first (or given by URL); its file_id edits the message.
    done = http.post(f"{api}/sendPhoto", data={"chat_id": "7"}, files={"photo": ("d.png", png(128, 128))})
    media = {"type": "photo", "media": done.json()["result"]["photo"][-1]["file_id"], "caption": "Pixel Art"}
    edited = http.post(
        f"{api}/editMessageMedia", json={"inline_message_id": chosen.inline_message_id, "media": media}
    ).json()
    caption = http.post(
        f"{api}/editMessageCaption",
        json={"inline_message_id": chosen.inline_message_id, "caption": "Pixel Art · fox"},
    ).json()
    text = http.post(
        f"{api}/editMessageText", json={"inline_message_id": chosen.inline_message_id, "text": "no"}
    ).json()

    assert uploaded["description"] == (
        "Bad Request: a new file can't be uploaded to edit an inline message: send a file_id or an HTTP URL"
    )
    assert edited == {"ok": True, "result": True}
    assert caption == {"ok": True, "result": True}
    assert text["description"] == "Bad Request: there is no text in the message to edit"
    now = telegram.message(-100123, placed["message_id"])
    assert now is not None
    assert (now["photo"][-1]["width"], now["caption"]) == (128, "Pixel Art · fox")
    assert "reply_markup" not in now  # the edits sent no keyboard: Telegram removes it
    assert (
        telegram.wait_for_media_edit(inline_message_id=chosen.inline_message_id).param_json("media") == media
    )


def test_a_chosen_article_without_a_keyboard_has_no_inline_message_id(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    sent = telegram.send_inline_query(42, "fox")
    answer(http, fake_telegram_server, sent.inline_query_id, [article("a1", "<b>fox</b>")])

    chosen = telegram.choose_inline_result(42, sent.inline_query_id, "a1")

    update = json.loads(webhook.received[-1].body)["chosen_inline_result"]
    assert "inline_message_id" not in update and chosen.inline_message_id is None
    assert chosen.message["chat"]["id"] == 42
    assert chosen.message["text"] == "<b>fox</b>"


def test_a_chosen_article_with_a_keyboard_can_have_its_text_edited(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    sent = telegram.send_inline_query(42, "fox")
    answer(http, fake_telegram_server, sent.inline_query_id, [article("a1", reply_markup=KEYBOARD)])
    chosen = telegram.choose_inline_result(42, sent.inline_query_id, "a1")

    edited = http.post(
        f"{fake_telegram_server.api_url}/editMessageText",
        json={"inline_message_id": chosen.inline_message_id, "text": "<i>done</i>", "parse_mode": "HTML"},
    ).json()

    assert edited == {"ok": True, "result": True}
    now = telegram.message(42, chosen.message["message_id"])
    assert now is not None and now["text"] == "done" and "reply_markup" not in now


def test_a_photo_url_result_is_fetched_when_chosen(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    url = f"{fake_telegram_server.base_url}/_fake/files/{a_photo_file_id(http, fake_telegram_server)}"
    sent = telegram.send_inline_query(42, "fox")
    result = {"type": "photo", "id": "u", "photo_url": url, "thumbnail_url": url, "reply_markup": KEYBOARD}
    answer(http, fake_telegram_server, sent.inline_query_id, [result])

    chosen = telegram.choose_inline_result(42, sent.inline_query_id, "u")

    assert chosen.message["photo"][-1]["width"] == 64
    assert chosen.inline_message_id is not None


def test_only_an_answered_result_of_the_users_own_query_can_be_chosen(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    sent = telegram.send_inline_query(42, "fox")

    with pytest.raises(FakeTelegramError, match="has no result"):
        telegram.choose_inline_result(42, sent.inline_query_id, "a1")
    answer(http, fake_telegram_server, sent.inline_query_id, [article("a1")])
    with pytest.raises(FakeTelegramError, match="asked no inline query"):
        telegram.choose_inline_result(43, sent.inline_query_id, "a1")
