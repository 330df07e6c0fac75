"""The photo's edges over real HTTP and the real storage emulator: getFile and the download
from the fake Bot API (files at <base>/file/bot<token>/<file_path>, as Telegram serves them),
then the prepared input written to inputs/<job_id>.jpg."""

from __future__ import annotations

import io
import logging
import uuid

import pytest
from google.cloud import storage
from imagebot.core.answer_to import AnswerTo
from imagebot.core.contract import input_object_name
from imagebot.core.photos import PreparedPhoto, prepare_photo
from imagebot.edges.inputs import InputStore
from imagebot.edges.telegram import BotApi, FileTooBig, TelegramError
from PIL import Image

from local.fake_telegram import FakeTelegramServer
from tests.conftest import BUCKET, PROJECT
from tests.integration.functions.conftest import BOT_TOKEN
from tests.support import photos

CHAT = 5150


@pytest.fixture
def bot(telegram_server: FakeTelegramServer) -> BotApi:
    return BotApi(BOT_TOKEN, telegram_server.base_url, timeout=10)


def stored_file(bot: BotApi, data: bytes, filename: str = "photo.png") -> str:
    """A file the fake Bot API holds, by its id: what a user's photo is once Telegram has it."""
    sent = bot.send_document(AnswerTo(CHAT), data, filename=filename)
    return str(sent["document"]["file_id"])


def test_a_users_file_comes_back_byte_for_byte_and_is_prepared(bot):
    original = photos.png_with_gps(1200, 900)
    described = bot.get_file(stored_file(bot, original))
    assert described["file_size"] == len(original) and described["file_path"]
    data = bot.download_file(described["file_path"])
    assert data == original
    photo = prepare_photo(data)
    assert isinstance(photo, PreparedPhoto) and photo.aspect == "landscape"


def test_a_file_over_the_cap_is_refused_by_the_download_and_by_getfile(bot):
    data = photos.jpeg(800, 600)
    path = bot.get_file(stored_file(bot, data, "photo.jpg"))["file_path"]
    with pytest.raises(FileTooBig):
        bot.download_file(path, max_bytes=len(data) - 1)
    assert bot.download_file(path, max_bytes=len(data)) == data
    huge = stored_file(bot, b"\xff\xd8" + b"\x00" * (20 * 1024 * 1024), "huge.jpg")
    with pytest.raises(FileTooBig):
        bot.get_file(huge)


def test_failures_name_the_path_and_never_the_token(bot, telegram_server, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(TelegramError) as missing:
        bot.download_file("photos/no_such_file.jpg")
    with pytest.raises(TelegramError) as unknown:
        bot.get_file("no-such-file-id")
    wrong_token = BotApi("999:WRONG", telegram_server.base_url, timeout=10)
    path = bot.get_file(stored_file(bot, photos.jpeg()))["file_path"]
    with pytest.raises(TelegramError) as refused:
        wrong_token.download_file(path)
    assert (missing.value.error_code, missing.value.transient) == (404, False)
    assert unknown.value.error_code == 400
    assert refused.value.error_code == 401 and path in str(refused.value)
    for error in (missing.value, unknown.value, refused.value):
        for text in (str(error), repr(error)):
            assert BOT_TOKEN not in text and "WRONG" not in text and "/file/bot" not in text
    assert BOT_TOKEN not in caplog.text and "999:WRONG" not in caplog.text  # ours and the fake's logs


def test_the_input_is_stored_private_as_a_jpeg_under_inputs(emulators):
    job_id = f"photo-{uuid.uuid4().hex[:12]}"
    photo = prepare_photo(photos.rotated_jpeg())
    assert isinstance(photo, PreparedPhoto)
    bucket = storage.Client(project=PROJECT).bucket(BUCKET)
    inputs = InputStore(bucket)
    name = inputs.put_input(job_id, photo.jpeg)
    assert name == input_object_name(job_id) == f"inputs/{job_id}.jpg"
    blob = bucket.get_blob(name)
    assert blob is not None and blob.content_type == "image/jpeg"
    stored = blob.download_as_bytes()
    assert stored == photo.jpeg
    assert Image.open(io.BytesIO(stored)).size == (photo.width, photo.height) == (896, 1152)
    assert inputs.put_input(job_id, photo.jpeg) == name  # a redelivered validation: no error
