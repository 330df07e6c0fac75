"""Photos, files and albums over real HTTP: what users send the bot, and what the bot sends back."""

from __future__ import annotations

import io
import json
import secrets
import struct
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from local.fake_telegram import FakeTelegramServer
from local.fake_telegram_client import FakeTelegram
from tests.support.images import png

from .conftest import SECRET, TOKEN, Receiver


@pytest.fixture
def webhook(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, make_receiver: Callable[..., Receiver]
) -> Iterator[Receiver]:
    receiver = make_receiver()
    answer = http.post(
        f"{fake_telegram_server.api_url}/setWebhook", json={"url": receiver.url, "secret_token": SECRET}
    )
    assert answer.json()["ok"] is True
    yield receiver


def last_update(receiver: Receiver) -> dict[str, Any]:
    update: dict[str, Any] = json.loads(receiver.received[-1].body)
    return update


def jpeg(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "orange").save(buffer, format="JPEG")
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height (900 million pixels here) in a few dozen bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def download(http: httpx.Client, server: FakeTelegramServer, file_id: str) -> httpx.Response:
    """As a bot fetches a file: getFile, then GET /file/bot<token>/<file_path>."""
    file = http.post(f"{server.api_url}/getFile", json={"file_id": file_id}).json()
    assert file["ok"] is True, file
    return http.get(f"{server.base_url}/file/bot{TOKEN}/{file['result']['file_path']}")


# -- what users send ------------------------------------------------------------------------------


def test_a_users_photo_arrives_as_sizes_up_to_the_original_and_downloads_byte_for_byte(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    image = jpeg(1600, 1200)

    result = telegram.send_photo(42, 42, image, caption="my street --no cars")

    message = last_update(webhook)["message"]
    sizes = message["photo"]
    assert result.status == 200
    assert message["caption"] == "my street --no cars"
    assert [(size["width"], size["height"]) for size in sizes] == [
        (90, 68),
        (320, 240),
        (800, 600),
        (1280, 960),
        (1600, 1200),
    ]
    assert all(set(size) == {"file_id", "file_unique_id", "width", "height", "file_size"} for size in sizes)
    assert len({size["file_id"] for size in sizes}) == len(sizes)
    assert sizes[-1]["file_size"] == len(image)
    original = download(http, fake_telegram_server, sizes[-1]["file_id"])
    thumbnail = download(http, fake_telegram_server, sizes[0]["file_id"])
    assert original.content == image
    assert Image.open(io.BytesIO(thumbnail.content)).size == (90, 68)


def test_an_image_sent_as_a_file_is_a_document_with_name_type_and_size(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    image = png(300, 200)

    telegram.send_photo(42, 42, image, as_document=True, file_name="cat.png", mime_type="image/png")

    message = last_update(webhook)["message"]
    document = message["document"]
    assert "photo" not in message and "caption" not in message
    assert (document["file_name"], document["mime_type"], document["file_size"]) == (
        "cat.png",
        "image/png",
        len(image),
    )
    assert download(http, fake_telegram_server, document["file_id"]).content == image


def test_bytes_pillow_cannot_open_arrive_as_a_document_and_a_truncated_jpeg_as_a_photo(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    garbage = b"%PDF-1.4 definitely not a picture"
    whole = jpeg(400, 300)
    truncated = whole[: len(whole) // 2]

    telegram.send_photo(42, 42, garbage, file_name="x.jpg")
    as_document = last_update(webhook)["message"]
    telegram.send_photo(42, 42, truncated)
    as_photo = last_update(webhook)["message"]

    assert as_document["document"]["file_name"] == "x.jpg"
    assert as_document["document"]["mime_type"] == "application/octet-stream"
    assert download(http, fake_telegram_server, as_document["document"]["file_id"]).content == garbage
    # Its header names a size, but it does not decode: no thumbnails, only the file as sent.
    [only] = as_photo["photo"]
    assert (only["width"], only["height"]) == (400, 300)
    assert download(http, fake_telegram_server, only["file_id"]).content == truncated


def test_a_decompression_bomb_arrives_as_a_png_document_without_being_decoded(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    bomb = png_header_only(30_000, 30_000)

    telegram.send_photo(42, 42, bomb, file_name="bomb.png")

    document = last_update(webhook)["message"]["document"]
    assert (document["mime_type"], document["file_size"]) == ("image/png", len(bomb))
    assert download(http, fake_telegram_server, document["file_id"]).content == bomb


def test_an_album_is_one_update_per_photo_sharing_a_media_group_id(
    telegram: FakeTelegram, webhook: Receiver
) -> None:
    results = telegram.send_album(42, 42, [png(64, 64), png(80, 60), png(60, 80)], caption="three")

    updates = [json.loads(request.body) for request in webhook.received]
    messages = [update["message"] for update in updates]
    assert len({result.update_id for result in results}) == 3
    assert [update["update_id"] for update in updates] == [result.update_id for result in results]
    assert len({message["media_group_id"] for message in messages}) == 1
    assert [message.get("caption") for message in messages] == ["three", None, None]
    assert [message["photo"][-1]["width"] for message in messages] == [64, 80, 60]


@pytest.mark.parametrize("kind", ["animation", "video", "video_note"])
def test_other_media_arrive_as_telegram_describes_them(
    telegram: FakeTelegram, webhook: Receiver, kind: str
) -> None:
    telegram.send_media(42, 42, kind)  # type: ignore[arg-type]

    message = last_update(webhook)["message"]
    assert {"file_id", "file_unique_id", "duration"} <= set(message[kind])
    assert "photo" not in message
    # Telegram sends a GIF as an mp4 animation, with a document beside it for old clients.
    assert ("document" in message) == (kind == "animation")


def test_a_file_over_20_mb_cannot_be_fetched_and_an_unknown_path_is_not_found(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    telegram.send_photo(42, 42, secrets.token_bytes(20 * 1024 * 1024 + 1), file_name="big.bin")
    document = last_update(webhook)["message"]["document"]

    too_big = http.post(f"{fake_telegram_server.api_url}/getFile", json={"file_id": document["file_id"]})
    unknown_id = http.post(f"{fake_telegram_server.api_url}/getFile", json={"file_id": "AgACnope"})
    unknown_path = http.get(f"{fake_telegram_server.base_url}/file/bot{TOKEN}/photos/file_999.jpg")

    assert document["mime_type"] == "application/octet-stream"
    assert too_big.status_code == 400
    assert too_big.json()["description"] == "Bad Request: file is too big"
    assert unknown_id.json()["description"] == "Bad Request: invalid file_id"
    assert unknown_path.status_code == 404


def test_a_users_photo_can_be_sent_back_by_its_file_id(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    telegram.send_photo(42, 42, png(400, 300))
    sizes = last_update(webhook)["message"]["photo"]

    sent = http.post(
        f"{fake_telegram_server.api_url}/sendPhoto", json={"chat_id": 7, "photo": sizes[0]["file_id"]}
    )

    assert sent.json()["result"]["photo"] == sizes


# -- what the bot sends ---------------------------------------------------------------------------


def test_send_photo_records_its_reply_and_thread(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, webhook: Receiver
) -> None:
    telegram.send_photo(42, 42, png(64, 64))
    users_photo = last_update(webhook)["message"]

    answer = http.post(
        f"{fake_telegram_server.api_url}/sendPhoto",
        data={
            "chat_id": "42",
            "reply_parameters": json.dumps({"message_id": users_photo["message_id"]}),
            "message_thread_id": "5",
        },
        files={"photo": ("out.png", png(96, 96), "image/png")},
    ).json()
    by_old_field = http.post(
        f"{fake_telegram_server.api_url}/sendPhoto",
        json={"chat_id": 42, "photo": users_photo["photo"][-1]["file_id"], "reply_to_message_id": 1},
    ).json()

    assert answer["result"]["reply_to_message"]["photo"] == users_photo["photo"]
    assert answer["result"]["message_thread_id"] == 5
    assert by_old_field["result"]["reply_to_message"]["message_id"] == users_photo["message_id"]
    assert telegram.calls("sendPhoto")[0].params["message_thread_id"] == "5"


def test_send_media_group_takes_uploads_file_ids_and_urls_with_a_caption_each(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram
) -> None:
    api = fake_telegram_server.api_url
    first = http.post(f"{api}/sendPhoto", data={"chat_id": "42"}, files={"photo": ("a.png", png(50, 50))})
    known = first.json()["result"]["photo"][-1]["file_id"]
    url = f"{fake_telegram_server.base_url}/_fake/files/{known}"
    media = [
        {"type": "photo", "media": "attach://ghibli", "caption": "<b>Ghibli Art</b>", "parse_mode": "HTML"},
        {"type": "photo", "media": known, "caption": "Realistic"},
        {"type": "photo", "media": url},
    ]

    answer = http.post(
        f"{api}/sendMediaGroup",
        data={"chat_id": "42", "media": json.dumps(media), "reply_parameters": json.dumps({"message_id": 1})},
        files={"ghibli": ("ghibli.png", png(120, 80), "image/png")},
    ).json()

    messages = answer["result"]
    assert answer["ok"] is True, answer
    assert [m["message_id"] for m in messages] == [2, 3, 4]
    assert len({m["media_group_id"] for m in messages}) == 1
    assert [m.get("caption") for m in messages] == ["Ghibli Art", "Realistic", None]
    assert messages[0]["caption_entities"] == [{"offset": 0, "length": 10, "type": "bold"}]
    assert messages[0]["photo"][-1]["width"] == 120
    assert messages[1]["photo"][-1]["file_id"] == known
    assert all(m["reply_to_message"]["message_id"] == 1 for m in messages)
    assert all("reply_markup" not in m for m in messages)
    assert telegram.albums(42) == [messages]
    assert telegram.wait_for_album(42) == messages


@pytest.mark.parametrize(
    ("media", "extra", "description"),
    [
        ([], {}, "Bad Request: there are no messages to send"),
        ([{"type": "photo", "media": "F"}], {}, "Bad Request: an album needs 2-10 media, got 1"),
        ([{"type": "photo", "media": "F"}] * 11, {}, "Bad Request: too many messages to send as an album"),
        (
            [{"type": "photo", "media": "F"}, {"type": "photo", "media": "F", "reply_markup": {}}],
            {},
            "Bad Request: can't parse InputMedia: unknown field 'reply_markup' in InputMedia photo",
        ),
        (
            [{"type": "photo", "media": "F"}] * 2,
            {"reply_markup": {"inline_keyboard": [[{"text": "Again", "callback_data": "a"}]]}},
            "Bad Request: sendMediaGroup has no reply_markup: albums cannot carry buttons",
        ),
        (
            [{"type": "photo", "media": "F"}, {"type": "photo", "media": "attach://missing"}],
            {},
            "Bad Request: can't parse InputMedia: media not found",
        ),
        (
            [{"type": "photo", "media": "F"}, {"type": "photo", "media": "no-such-file"}],
            {},
            "Bad Request: wrong file identifier/HTTP URL specified",
        ),
        ("not json", {}, "Bad Request: can't parse media JSON object"),
    ],
)
def test_send_media_group_refuses_what_telegram_refuses_and_sends_nothing(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    media: Any,
    extra: dict[str, Any],
    description: str,
) -> None:
    api = fake_telegram_server.api_url
    first = http.post(f"{api}/sendPhoto", data={"chat_id": "42"}, files={"photo": ("a.png", png(50, 50))})
    known = first.json()["result"]["photo"][-1]["file_id"]
    if isinstance(media, list):
        media = json.loads(json.dumps(media).replace('"F"', json.dumps(known)))
    else:
        media = media

    answer = http.post(f"{api}/sendMediaGroup", json={"chat_id": 42, "media": media, **extra})

    assert answer.status_code == 400
    assert answer.json()["description"] == description
    assert [m["message_id"] for m in telegram.chat(42)["messages"]] == [1]


def test_edit_message_media_replaces_the_photo_caption_and_keyboard(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram
) -> None:
    api = fake_telegram_server.api_url
    placeholder = http.post(
        f"{api}/sendPhoto",
        data={"chat_id": "42", "caption": "drawing…"},
        files={"photo": ("a.png", png(50, 50))},
    )
    message_id = placeholder.json()["result"]["message_id"]
    keyboard = {"inline_keyboard": [[{"text": "⬆1", "callback_data": "up:1"}]]}
    media = {"type": "photo", "media": "attach://done", "caption": "Pixel Art"}

    edited = http.post(
        f"{api}/editMessageMedia",
        data={
            "chat_id": "42",
            "message_id": str(message_id),
            "media": json.dumps(media),
            "reply_markup": json.dumps(keyboard),
        },
        files={"done": ("done.png", png(200, 100), "image/png")},
    ).json()
    same_again = http.post(
        f"{api}/editMessageMedia",
        json={
            "chat_id": 42,
            "message_id": message_id,
            "media": {
                "type": "photo",
                "media": edited["result"]["photo"][-1]["file_id"],
                "caption": "Pixel Art",
            },
            "reply_markup": keyboard,
        },
    ).json()

    result = edited["result"]
    assert (result["photo"][-1]["width"], result["caption"], result["reply_markup"]) == (
        200,
        "Pixel Art",
        keyboard,
    )
    assert "edit_date" in result
    assert telegram.message(42, message_id) == result
    assert same_again["description"].startswith("Bad Request: message is not modified")
    call = telegram.wait_for_media_edit(chat_id=42, message_id=message_id)
    assert call.param_json("media") == media
    assert telegram.media_edits() == [call]


def test_edit_message_media_adds_media_to_a_text_message_and_refuses_an_unknown_one_and_bad_media(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer
) -> None:
    api = fake_telegram_server.api_url
    text = http.post(f"{api}/sendMessage", json={"chat_id": 42, "text": "hi"}).json()["result"]
    photo = http.post(
        f"{api}/sendPhoto", data={"chat_id": "42"}, files={"photo": ("a.png", png(50, 50))}
    ).json()
    file_id = photo["result"]["photo"][-1]["file_id"]
    good = {"type": "photo", "media": file_id}

    def edit(**values: Any) -> str:
        return str(http.post(f"{api}/editMessageMedia", json={"chat_id": 42, **values}).json()["description"])

    # "…or to add media to text messages" (Bot API, editMessageMedia): the text goes.
    added = http.post(
        f"{api}/editMessageMedia", json={"chat_id": 42, "message_id": text["message_id"], "media": good}
    ).json()
    assert added["ok"] and "text" not in added["result"]
    assert added["result"]["photo"][-1]["file_id"] == file_id
    assert edit(message_id=99, media=good) == "Bad Request: message to edit not found"
    assert edit(message_id=2, media={**good, "reply_markup": {}}).startswith(
        "Bad Request: can't parse InputMedia"
    )
    assert edit(message_id=2) == 'Bad Request: parameter "media" is required'
    assert edit(inline_message_id="nope", media=good) == "Bad Request: MESSAGE_ID_INVALID"
