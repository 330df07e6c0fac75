"""The fake Bot API over real HTTP, called the way a bot calls Telegram."""

from __future__ import annotations

import hashlib
import json
import threading
import time

import httpx

from local.fake_telegram import FakeTelegramServer
from local.fake_telegram_client import FakeTelegram
from tests.support.images import png

from .conftest import TOKEN


def test_get_me_describes_the_bot_of_the_token(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer
) -> None:
    response = http.get(f"{fake_telegram_server.api_url}/getMe")

    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert body["result"]["id"] == 123456
    assert body["result"]["is_bot"] is True
    assert body["result"]["username"] == "imagebot_local_bot"


def test_send_message_takes_json_form_and_query_string_alike(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer
) -> None:
    url = f"{fake_telegram_server.api_url}/sendMessage"

    as_json = http.post(url, json={"chat_id": 42, "text": "one"}).json()
    as_form = http.post(url, data={"chat_id": "42", "text": "two"}).json()
    as_query = http.get(url, params={"chat_id": "42", "text": "three"}).json()
    other_chat = http.post(url, json={"chat_id": 7, "text": "elsewhere"}).json()

    messages = [as_json["result"], as_form["result"], as_query["result"]]
    assert [m["message_id"] for m in messages] == [1, 2, 3]
    assert [m["text"] for m in messages] == ["one", "two", "three"]
    assert all(m["chat"]["id"] == 42 and m["from"]["id"] == 123456 for m in messages)
    assert all(isinstance(m["date"], int) for m in messages)
    assert other_chat["result"]["message_id"] == 1


def test_html_is_shown_as_plain_text_and_the_raw_text_is_recorded(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram
) -> None:
    response = http.post(
        f"{fake_telegram_server.api_url}/sendMessage",
        json={"chat_id": 42, "text": "<b>Ready</b> &lt;3", "parse_mode": "HTML"},
    )

    assert response.json()["result"]["text"] == "Ready <3"
    assert telegram.calls("sendMessage")[-1].params["text"] == "<b>Ready</b> &lt;3"


def test_markdown_v2_with_an_unescaped_dot_is_refused_as_telegram_does(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
) -> None:
    response = http.post(
        f"{fake_telegram_server.api_url}/sendMessage",
        json={"chat_id": 42, "text": "Done.", "parse_mode": "MarkdownV2"},
    )

    assert response.status_code == 400
    assert response.json()["description"].startswith("Bad Request: can't parse entities: Character '.'")


def test_edit_message_text_replaces_text_and_drops_a_keyboard_not_sent_again(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
) -> None:
    api = fake_telegram_server.api_url
    keyboard = {"inline_keyboard": [[{"text": "Pixel Art", "callback_data": "style:pixel"}]]}
    sent = http.post(
        f"{api}/sendMessage", json={"chat_id": 42, "text": "Queued", "reply_markup": keyboard}
    ).json()
    message_id = sent["result"]["message_id"]

    kept = http.post(
        f"{api}/editMessageText",
        json={"chat_id": 42, "message_id": message_id, "text": "Generating", "reply_markup": keyboard},
    ).json()
    dropped = http.post(
        f"{api}/editMessageText", json={"chat_id": 42, "message_id": message_id, "text": "Generating"}
    ).json()
    unchanged = http.post(
        f"{api}/editMessageText", json={"chat_id": 42, "message_id": message_id, "text": "Generating"}
    )
    missing = http.post(f"{api}/editMessageText", json={"chat_id": 42, "message_id": 999, "text": "x"})

    assert sent["result"]["reply_markup"] == keyboard
    assert kept["result"]["text"] == "Generating"
    assert kept["result"]["reply_markup"] == keyboard
    assert "edit_date" in kept["result"]
    assert "reply_markup" not in dropped["result"]
    assert unchanged.status_code == 400
    assert unchanged.json()["description"].startswith("Bad Request: message is not modified")
    assert missing.json() == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: message to edit not found",
    }


def test_edit_message_reply_markup_and_delete_message(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer
) -> None:
    api = fake_telegram_server.api_url
    message_id = http.post(f"{api}/sendMessage", json={"chat_id": 42, "text": "Pick"}).json()["result"][
        "message_id"
    ]
    keyboard = {"inline_keyboard": [[{"text": "Retry", "callback_data": "retry:1"}]]}

    edited = http.post(
        f"{api}/editMessageReplyMarkup",
        data={"chat_id": "42", "message_id": str(message_id), "reply_markup": json.dumps(keyboard)},
    ).json()
    deleted = http.post(f"{api}/deleteMessage", json={"chat_id": 42, "message_id": message_id}).json()
    again = http.post(f"{api}/deleteMessage", json={"chat_id": 42, "message_id": message_id}).json()

    assert edited["result"]["reply_markup"] == keyboard
    assert deleted == {"ok": True, "result": True}
    assert again["description"] == "Bad Request: message to delete not found"


def test_send_photo_upload_round_trips_through_get_file_and_download(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram
) -> None:
    image = png(640, 480)
    keyboard = {"inline_keyboard": [[{"text": "Again", "callback_data": "again:1"}]]}

    response = http.post(
        f"{fake_telegram_server.api_url}/sendPhoto",
        data={"chat_id": "42", "caption": "a cat, Pixel Art", "reply_markup": json.dumps(keyboard)},
        files={"photo": ("job-1.png", image, "image/png")},
    )
    message = response.json()["result"]
    largest = message["photo"][-1]
    file = http.post(f"{fake_telegram_server.api_url}/getFile", json={"file_id": largest["file_id"]}).json()
    download = http.get(f"{fake_telegram_server.base_url}/file/bot{TOKEN}/{file['result']['file_path']}")

    assert response.status_code == 200
    assert message["caption"] == "a cat, Pixel Art"
    assert message["reply_markup"] == keyboard
    assert (largest["width"], largest["height"], largest["file_size"]) == (640, 480, len(image))
    assert [size["width"] for size in message["photo"]] == [90, 320, 640]
    assert all(
        set(size) == {"file_id", "file_unique_id", "width", "height", "file_size"}
        for size in message["photo"]
    )
    assert file["result"]["file_size"] == len(image)
    assert download.status_code == 200
    assert download.content == image
    assert telegram.file_bytes(largest["file_id"]) == image
    uploaded = telegram.calls("sendPhoto")[-1].files
    assert uploaded == [
        {
            "field": "photo",
            "filename": "job-1.png",
            "content_type": "image/png",
            "size": len(image),
            "sha256": hashlib.sha256(image).hexdigest(),
        }
    ]


def test_a_photo_sent_again_by_file_id_is_the_same_photo(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer
) -> None:
    api = fake_telegram_server.api_url
    first = http.post(
        f"{api}/sendPhoto", data={"chat_id": "42"}, files={"photo": ("a.png", png(64, 64))}
    ).json()
    file_id = first["result"]["photo"][-1]["file_id"]

    second = http.post(f"{api}/sendPhoto", json={"chat_id": 43, "photo": file_id}).json()
    unknown = http.post(f"{api}/sendPhoto", json={"chat_id": 43, "photo": "no-such-file"}).json()

    assert second["result"]["photo"] == first["result"]["photo"]
    assert second["result"]["chat"]["id"] == 43
    assert unknown["description"] == "Bad Request: wrong file identifier/HTTP URL specified"


def test_send_photo_refuses_what_is_not_an_image_and_a_request_without_photo(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
) -> None:
    api = fake_telegram_server.api_url

    garbage = http.post(f"{api}/sendPhoto", data={"chat_id": "42"}, files={"photo": ("x.png", b"not a png")})
    nothing = http.post(f"{api}/sendPhoto", json={"chat_id": 42})

    assert garbage.json()["description"] == "Bad Request: IMAGE_PROCESS_FAILED"
    assert nothing.json()["description"] == "Bad Request: there is no photo in the request"


def test_send_document_keeps_name_type_and_bytes(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram
) -> None:
    content = b'{"job": "1"}'

    response = http.post(
        f"{fake_telegram_server.api_url}/sendDocument",
        data={"chat_id": "42", "caption": "details"},
        files={"document": ("job.json", content, "application/json")},
    ).json()

    document = response["result"]["document"]
    assert (document["file_name"], document["mime_type"], document["file_size"]) == (
        "job.json",
        "application/json",
        12,
    )
    assert telegram.file_bytes(document["file_id"]) == content


def test_a_wrong_token_is_unauthorized_for_methods_and_downloads(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer
) -> None:
    base = fake_telegram_server.base_url

    call = http.post(f"{base}/bot654321:WRONG-TOKEN/sendMessage", json={"chat_id": 42, "text": "hi"})
    download = http.get(f"{base}/file/bot654321:WRONG-TOKEN/photos/file_1.png")

    assert call.status_code == 401
    assert call.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    assert download.status_code == 401


def test_unknown_method_is_not_found_and_method_names_ignore_case(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer
) -> None:
    api = fake_telegram_server.api_url

    unknown = http.post(f"{api}/sendHologram", json={"chat_id": 42})
    lower_case = http.post(f"{api}/sendmessage", json={"chat_id": 42, "text": "hi"})

    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    assert lower_case.json()["ok"] is True


def test_missing_or_bad_parameters_are_bad_requests(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer
) -> None:
    api = fake_telegram_server.api_url
    too_long_data = {"inline_keyboard": [[{"text": "x", "callback_data": "p" * 65}]]}

    no_chat = http.post(f"{api}/sendMessage", json={"text": "hi"})
    no_text = http.post(f"{api}/sendMessage", json={"chat_id": 42})
    bad_markup = http.post(
        f"{api}/sendMessage", data={"chat_id": "42", "text": "hi", "reply_markup": "{nope"}
    )
    long_data = http.post(
        f"{api}/sendMessage", json={"chat_id": 42, "text": "hi", "reply_markup": too_long_data}
    )
    long_text = http.post(f"{api}/sendMessage", json={"chat_id": 42, "text": "x" * 4097})
    bad_action = http.post(f"{api}/sendChatAction", json={"chat_id": 42, "action": "dancing"})

    assert no_chat.status_code == 400
    assert no_chat.json()["description"] == "Bad Request: chat_id is empty"
    assert no_text.json()["description"] == "Bad Request: message text is empty"
    assert bad_markup.json()["description"] == "Bad Request: can't parse reply keyboard markup JSON object"
    assert long_data.json()["description"] == "Bad Request: BUTTON_DATA_INVALID"
    assert long_text.json()["description"] == "Bad Request: message is too long"
    assert bad_action.json()["description"] == "Bad Request: wrong parameter action in request"


def test_a_429_fault_answers_with_retry_after_then_the_method_works_again(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram
) -> None:
    telegram.inject_fault("sendPhoto", count=2, error_code=429, retry_after=3)
    url = f"{fake_telegram_server.api_url}/sendPhoto"

    answers = [
        http.post(url, data={"chat_id": "42"}, files={"photo": ("a.png", png(32, 32))}) for _ in range(3)
    ]

    assert [answer.status_code for answer in answers] == [429, 429, 200]
    assert answers[0].json() == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    assert [call.status for call in telegram.calls("sendPhoto")] == [429, 429, 200]


def test_blocked_and_server_error_faults_use_telegram_descriptions(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram
) -> None:
    telegram.inject_fault("sendMessage", error_code=403)
    telegram.inject_fault("sendMessage", error_code=500)
    url = f"{fake_telegram_server.api_url}/sendMessage"

    blocked = http.post(url, json={"chat_id": 42, "text": "hi"})
    broken = http.post(url, json={"chat_id": 42, "text": "hi"})
    fine = http.post(url, json={"chat_id": 42, "text": "hi"})

    assert blocked.json() == {
        "ok": False,
        "error_code": 403,
        "description": "Forbidden: bot was blocked by the user",
    }
    assert broken.json() == {"ok": False, "error_code": 500, "description": "Internal Server Error"}
    assert fine.status_code == 200


def test_webhook_and_commands_are_stored_and_read_back(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer
) -> None:
    api = fake_telegram_server.api_url
    commands = [
        {"command": "start", "description": "Start"},
        {"command": "style", "description": "Pick a style"},
    ]

    set_hook = http.post(
        f"{api}/setWebhook",
        data={
            "url": "http://127.0.0.1:9/hook",
            "secret_token": "s3cret",
            "max_connections": "100",
            "allowed_updates": json.dumps(["message", "callback_query"]),
        },
    ).json()
    info = http.get(f"{api}/getWebhookInfo").json()["result"]
    bad_secret = http.post(
        f"{api}/setWebhook", json={"url": "http://127.0.0.1:9/hook", "secret_token": "no spaces"}
    )
    set_commands = http.post(f"{api}/setMyCommands", json={"commands": commands}).json()
    read_commands = http.post(f"{api}/getMyCommands").json()
    bad_command = http.post(
        f"{api}/setMyCommands", json={"commands": [{"command": "Start!", "description": "x"}]}
    )
    deleted = http.post(f"{api}/deleteWebhook").json()

    assert set_hook == {"ok": True, "result": True, "description": "Webhook was set"}
    assert info["url"] == "http://127.0.0.1:9/hook"
    assert info["max_connections"] == 100
    assert info["allowed_updates"] == ["message", "callback_query"]
    assert bad_secret.status_code == 400
    assert set_commands["result"] is True
    assert read_commands["result"] == commands
    assert bad_command.json()["description"] == "Bad Request: BOT_COMMAND_INVALID"
    assert deleted["description"] == "Webhook was deleted"
    assert http.get(f"{api}/getWebhookInfo").json()["result"]["url"] == ""


def test_chat_transcript_tells_what_happened_in_order(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram
) -> None:
    api = fake_telegram_server.api_url
    http.post(f"{api}/sendChatAction", json={"chat_id": 42, "action": "upload_photo"})
    http.post(f"{api}/sendMessage", json={"chat_id": 42, "text": "Queued"})
    http.post(f"{api}/deleteMessage", json={"chat_id": 42, "message_id": 1})

    chat = telegram.chat(42)

    assert [(entry["from"], entry["event"]) for entry in chat["transcript"]] == [
        ("bot", "chat_action"),
        ("bot", "message"),
        ("bot", "deleted"),
    ]
    assert chat["messages"] == []


def test_the_playground_page_is_served_with_its_assets_and_a_strict_policy(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer
) -> None:
    base = fake_telegram_server.base_url
    page = http.get(f"{base}/_fake/chat")
    script = http.get(f"{base}/_fake/chat/chat.js")
    style = http.get(f"{base}/_fake/chat/chat.css")

    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    # No inline script may run: markup smuggled into a message could not execute even if drawn.
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert 'src="/_fake/chat/chat.js"' in page.text
    assert script.headers["content-type"].startswith("text/javascript")
    assert "/_fake/messages" in script.text and "/_fake/callbacks" in script.text
    assert "innerHTML" not in script.text  # the page builds text nodes only
    assert style.headers["content-type"].startswith("text/css")
    assert http.get(f"{base}/_fake/chat/__init__.py").status_code == 404


def test_html_comes_back_with_its_entities_as_telegram_returns_them(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer
) -> None:
    api = fake_telegram_server.api_url
    text = '  <b>Ghibli Art</b>\n<i>a 🐱 &lt;b&gt;</i> <a href="https://example.com">link</a> '

    sent = http.post(f"{api}/sendMessage", json={"chat_id": 42, "text": text, "parse_mode": "HTML"}).json()
    plain = http.post(f"{api}/sendMessage", json={"chat_id": 42, "text": "no markup"}).json()
    photo = http.post(
        f"{api}/sendPhoto",
        data={"chat_id": "42", "caption": "<b>Pixel Art</b>\na cat", "parse_mode": "HTML"},
        files={"photo": ("p.png", png(64, 64), "image/png")},
    ).json()

    assert sent["result"]["text"] == "Ghibli Art\na 🐱 <b> link"
    # Offsets count UTF-16 units (the cat is two) after the surrounding spaces are trimmed.
    assert sent["result"]["entities"] == [
        {"offset": 0, "length": 10, "type": "bold"},
        {"offset": 11, "length": 8, "type": "italic"},
        {"offset": 20, "length": 4, "type": "text_link", "url": "https://example.com"},
    ]
    assert "entities" not in plain["result"]
    assert photo["result"]["caption_entities"] == [{"offset": 0, "length": 9, "type": "bold"}]


def test_an_edit_that_only_changes_formatting_is_a_change(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer
) -> None:
    api = fake_telegram_server.api_url
    message_id = http.post(f"{api}/sendMessage", json={"chat_id": 42, "text": "Queued"}).json()["result"][
        "message_id"
    ]
    edit = {"chat_id": 42, "message_id": message_id, "text": "<b>Queued</b>", "parse_mode": "HTML"}

    bold = http.post(f"{api}/editMessageText", json=edit).json()
    again = http.post(f"{api}/editMessageText", json=edit)
    plain = http.post(f"{api}/editMessageText", json={**edit, "parse_mode": None}).json()

    assert bold["result"]["entities"] == [{"offset": 0, "length": 6, "type": "bold"}]
    assert again.json()["description"].startswith("Bad Request: message is not modified")
    assert plain["result"]["text"] == "<b>Queued</b>" and "entities" not in plain["result"]


def test_a_chat_can_be_long_polled_for_its_next_change(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram
) -> None:
    api = fake_telegram_server.api_url
    base = fake_telegram_server.base_url
    http.post(f"{api}/sendMessage", json={"chat_id": 42, "text": "first"})
    version = telegram.chat(42)["version"]
    timer = threading.Timer(
        0.3, lambda: http.post(f"{api}/sendMessage", json={"chat_id": 42, "text": "next"})
    )

    started = time.monotonic()
    timer.start()
    changed = http.get(f"{base}/_fake/chats/42", params={"wait": 10, "seen": version}).json()
    waited = time.monotonic() - started
    quiet_started = time.monotonic()
    quiet = http.get(f"{base}/_fake/chats/42", params={"wait": 0.2, "seen": changed["version"]}).json()
    quiet_waited = time.monotonic() - quiet_started

    assert 0.2 < waited < 5  # woken by the change, not by the timeout
    assert changed["version"] > version
    assert [m["text"] for m in changed["messages"]] == ["first", "next"]
    assert quiet["version"] == changed["version"] and quiet_waited >= 0.2
    assert http.get(f"{base}/_fake/chats/43", params={"wait": 0.1}).status_code == 404
    assert http.get(f"{base}/_fake/chats/42", params={"wait": "nan"}).status_code == 400
