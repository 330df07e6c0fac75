"""Updates delivered to a webhook over real HTTP, driven through the control client."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from local.fake_telegram import FakeTelegramServer
from local.fake_telegram_client import FakeTelegram, FakeTelegramError
from local.processes import Supervisor, free_port
from tests.support.images import png

from .conftest import SECRET, TOKEN, Received, Receiver

ROOT = Path(__file__).resolve().parents[3]


def set_webhook(http: httpx.Client, server: FakeTelegramServer, url: str, **extra: object) -> None:
    answer = http.post(
        f"{server.api_url}/setWebhook", json={"url": url, "secret_token": SECRET, **extra}
    ).json()
    assert answer["ok"] is True


def updates(receiver: Receiver) -> list[dict[str, object]]:
    return [json.loads(request.body) for request in receiver.received]


def test_a_user_message_reaches_the_webhook_with_the_secret_header(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    make_receiver: Callable[..., Receiver],
) -> None:
    webhook = make_receiver()
    set_webhook(http, fake_telegram_server, f"{webhook.url}/telegram")

    result = telegram.send_text(
        chat_id=42, user_id=42, text="/start hello", language_code="de", first_name="Ada"
    )

    assert (result.delivered, result.status, result.body) == (True, 200, "OK")
    [request] = webhook.received
    assert request.path == "/telegram"
    assert request.headers["x-telegram-bot-api-secret-token"] == SECRET
    assert request.headers["content-type"] == "application/json"
    update = json.loads(request.body)
    assert update["update_id"] == result.update_id
    message = update["message"]
    assert message["text"] == "/start hello"
    assert message["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]
    assert message["from"] == {"id": 42, "is_bot": False, "first_name": "Ada", "language_code": "de"}
    assert message["chat"] == {"id": 42, "first_name": "Ada", "type": "private"}
    assert message["message_id"] == 1


def test_a_test_can_send_a_wrong_secret_or_none(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    make_receiver: Callable[..., Receiver],
) -> None:
    def refuse_bad_secret(received: Received) -> tuple[int, str, str]:
        ok = received.headers.get("x-telegram-bot-api-secret-token") == SECRET
        return (200, "OK", "text/plain") if ok else (403, "forbidden", "text/plain")

    webhook = make_receiver(refuse_bad_secret)
    set_webhook(http, fake_telegram_server, webhook.url)

    wrong = telegram.send_text(chat_id=42, user_id=42, text="hi", secret="not-the-secret")
    missing = telegram.send_text(chat_id=42, user_id=42, text="hi", omit_secret=True)
    right = telegram.send_text(chat_id=42, user_id=42, text="hi")

    assert (wrong.status, missing.status, right.status) == (403, 403, 200)
    assert webhook.received[0].headers["x-telegram-bot-api-secret-token"] == "not-the-secret"
    assert "x-telegram-bot-api-secret-token" not in webhook.received[1].headers
    info = http.get(f"{fake_telegram_server.api_url}/getWebhookInfo").json()["result"]
    assert info["last_error_message"] == "Wrong response from the webhook: 403 Forbidden"


def test_a_method_in_the_webhook_response_is_executed_and_flagged(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    make_receiver: Callable[..., Receiver],
) -> None:
    def answer_in_response(received: Received) -> tuple[int, str, str]:
        chat_id = json.loads(received.body)["message"]["chat"]["id"]
        reply = {"method": "sendMessage", "chat_id": chat_id, "text": "Pick a style"}
        return 200, json.dumps(reply), "application/json"

    webhook = make_receiver(answer_in_response)
    set_webhook(http, fake_telegram_server, webhook.url)

    result = telegram.send_text(chat_id=42, user_id=42, text="/style")

    assert result.reply is not None
    assert result.reply.ok
    assert result.reply.via_webhook_response is True
    assert result.reply.result["text"] == "Pick a style"
    [call] = telegram.calls("sendMessage")
    assert call.seq == result.reply.seq
    assert [entry["text"] for entry in telegram.chat(42)["transcript"]] == ["/style", "Pick a style"]


def test_a_webhook_response_that_is_not_json_or_form_is_not_executed(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    make_receiver: Callable[..., Receiver],
) -> None:
    reply = json.dumps({"method": "sendMessage", "chat_id": 42, "text": "lost"})
    webhook = make_receiver(lambda received: (200, reply, "text/html"))
    set_webhook(http, fake_telegram_server, webhook.url)

    result = telegram.send_text(chat_id=42, user_id=42, text="/help")

    assert result.status == 200
    assert result.reply is None
    assert telegram.calls("sendMessage") == []


def test_a_button_press_carries_the_message_and_its_query_is_answered_once(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    make_receiver: Callable[..., Receiver],
) -> None:
    webhook = make_receiver()
    set_webhook(http, fake_telegram_server, webhook.url)
    keyboard = {"inline_keyboard": [[{"text": "Ghibli Art", "callback_data": "style:ghibli"}]]}
    sent = http.post(
        f"{fake_telegram_server.api_url}/sendMessage",
        json={"chat_id": 42, "text": "Pick a style", "reply_markup": keyboard},
    ).json()["result"]

    result = telegram.press_button(chat_id=42, user_id=42, message_id=sent["message_id"], data="style:ghibli")
    query = updates(webhook)[0]["callback_query"]
    first = http.post(
        f"{fake_telegram_server.api_url}/answerCallbackQuery", json={"callback_query_id": query["id"]}
    )
    second = http.post(
        f"{fake_telegram_server.api_url}/answerCallbackQuery", json={"callback_query_id": query["id"]}
    )

    assert result.status == 200
    assert query["data"] == "style:ghibli"
    assert query["message"]["message_id"] == sent["message_id"]
    assert query["message"]["reply_markup"] == keyboard
    assert query["from"]["id"] == 42
    assert first.json() == {"ok": True, "result": True}
    assert second.status_code == 400
    with pytest.raises(FakeTelegramError, match="no button"):
        telegram.press_button(chat_id=42, user_id=42, message_id=sent["message_id"], data="style:nope")


def test_update_ids_increase_and_a_chosen_one_can_be_redelivered(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    make_receiver: Callable[..., Receiver],
) -> None:
    webhook = make_receiver()
    set_webhook(http, fake_telegram_server, webhook.url)

    first = telegram.send_text(chat_id=42, user_id=42, text="a cat")
    second = telegram.send_text(chat_id=42, user_id=42, text="a dog")
    raw = {"message": updates(webhook)[1]["message"], "update_id": second.update_id}
    retried = telegram.send_update(raw)
    third = telegram.send_update({"message": updates(webhook)[0]["message"]})

    assert first.update_id > 1  # like Telegram's, not counted from 1 (they must not repeat across runs)
    assert second.update_id == first.update_id + 1
    assert retried.update_id == second.update_id
    assert third.update_id == second.update_id + 1
    assert updates(webhook)[2] == updates(webhook)[1]


def test_kinds_left_out_of_allowed_updates_are_not_delivered_unless_forced(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    make_receiver: Callable[..., Receiver],
) -> None:
    webhook = make_receiver()
    set_webhook(http, fake_telegram_server, webhook.url, allowed_updates=["message", "callback_query"])
    telegram.send_text(chat_id=42, user_id=42, text="a cat")

    filtered = telegram.edit_message(chat_id=42, user_id=42, text="a dog")
    forced = telegram.edit_message(chat_id=42, user_id=42, text="a dog", ignore_allowed_updates=True)
    sticker = telegram.send_sticker(chat_id=42, user_id=42)

    assert filtered.delivered is False
    assert "allowed_updates" in (filtered.error or "")
    assert forced.status == 200
    edited = updates(webhook)[1]["edited_message"]
    assert (edited["message_id"], edited["text"]) == (1, "a dog")
    assert "edit_date" in edited
    assert sticker.status == 200
    assert "sticker" in updates(webhook)[2]["message"]
    assert "text" not in updates(webhook)[2]["message"]


def test_group_messages_have_a_group_chat(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    make_receiver: Callable[..., Receiver],
) -> None:
    webhook = make_receiver()
    set_webhook(http, fake_telegram_server, webhook.url)

    telegram.send_text(chat_id=-1001234, user_id=42, text="/start@imagebot_local_bot", chat_type="supergroup")

    message = updates(webhook)[0]["message"]
    assert message["chat"]["type"] == "supergroup"
    assert message["chat"]["id"] == -1001234
    assert message["entities"][0]["length"] == len("/start@imagebot_local_bot")


def test_delivery_without_a_webhook_is_refused_and_an_unreachable_one_is_reported(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram
) -> None:
    with pytest.raises(FakeTelegramError, match="no webhook"):
        telegram.send_text(chat_id=42, user_id=42, text="hi")
    set_webhook(http, fake_telegram_server, f"http://127.0.0.1:{free_port()}/nobody-home")

    result = telegram.send_text(chat_id=42, user_id=42, text="hi")

    assert result.delivered is False
    assert result.status is None
    assert "Connect" in (result.error or "")


def test_wait_for_call_sees_a_later_call_and_reset_forgets_calls_but_not_the_webhook(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram
) -> None:
    set_webhook(http, fake_telegram_server, "http://127.0.0.1:9/hook")
    http.post(f"{fake_telegram_server.api_url}/sendMessage", json={"chat_id": 1, "text": "first"})
    since = telegram.last_seq()
    http.post(f"{fake_telegram_server.api_url}/sendMessage", json={"chat_id": 2, "text": "second"})

    call = telegram.wait_for_call("sendMessage", lambda c: c.params["chat_id"] == 2, since=since, timeout=2)
    with pytest.raises(TimeoutError):
        telegram.wait_for_call("sendPhoto", timeout=0.3)
    before = telegram.send_update({"message": {"message_id": 1, "chat": {"id": 1}, "date": 0, "text": "x"}})
    telegram.reset()
    after = telegram.send_update({"message": {"message_id": 1, "chat": {"id": 1}, "date": 0, "text": "x"}})

    assert call.result["text"] == "second"
    assert telegram.calls() == []
    assert telegram.webhook()["url"] == "http://127.0.0.1:9/hook"
    # The bot deduplicates on update_id in a store that outlives a reset: ids must not start over.
    assert after.update_id > before.update_id


def test_the_command_line_server_starts_under_the_supervisor_with_a_webhook(
    tmp_path: Path, make_receiver: Callable[..., Receiver]
) -> None:
    webhook = make_receiver()
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "local.fake_telegram",
        "--port",
        str(port),
        "--token",
        TOKEN,
        "--webhook-url",
        webhook.url,
        "--secret",
        SECRET,
    ]
    supervisor = Supervisor(tmp_path)
    try:
        supervisor.start("fake-telegram", argv, ready_url=f"http://127.0.0.1:{port}/_fake/health", cwd=ROOT)
        with FakeTelegram(f"http://127.0.0.1:{port}") as telegram:
            result = telegram.send_text(chat_id=42, user_id=42, text="/start")
            telegram.send_photo(42, 42, png(32, 32))
        me = httpx.get(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe").json()
        # A file's download URL holds the token too: it must not reach the log either.
        photo = json.loads(webhook.received[-1].body)["message"]["photo"][-1]
        file = httpx.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getFile", json={"file_id": photo["file_id"]})
        path = file.json()["result"]["file_path"]
        downloaded = httpx.get(f"http://127.0.0.1:{port}/file/bot{TOKEN}/{path}")
    finally:
        supervisor.stop()

    assert result.status == 200
    assert me["result"]["id"] == 123456
    assert webhook.received[0].headers["x-telegram-bot-api-secret-token"] == SECRET
    log = (tmp_path / "fake-telegram.log").read_text()
    assert "/bot<token>/getMe" in log
    assert downloaded.status_code == 200
    assert f"/file/bot<token>/{path}" in log
    assert TOKEN not in log
