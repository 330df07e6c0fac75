"""A user's photo through the real validate_prompt flow, on the emulators: the fake Bot API
serves the file (getFile, then the download from /file/bot<token>/<path>, over real HTTP),
Firestore holds the job and the quota, the storage emulator the prepared input.

Every bad file gets its message in the user's language, no job is charged, nothing goes on,
and the token never shows up in a log line, an error or a document.
"""

from __future__ import annotations

import io
import logging

import pytest
from google.cloud import storage
from imagebot.core.answer_to import AnswerTo
from imagebot.core.contract import input_object_name
from imagebot.core.jobs import State
from imagebot.core.updates import Photo, encode_event
from imagebot.edges.telegram import TelegramError
from imagebot.flows import validate_prompt
from PIL import Image

from tests.conftest import BUCKET, PROJECT
from tests.integration.functions.conftest import BOT_TOKEN, TOPICS
from tests.support import photos
from tests.support.events import pubsub_event_data, unique_ids
from tests.support.pubsub import TopicTap

ids = unique_ids(8_500_000)
UPLOADER = 8_499_999  # the chat the test's files are uploaded through, apart from the user's


@pytest.fixture
def validated(emulators) -> TopicTap:
    return TopicTap(PROJECT, TOPICS["VALIDATED_TOPIC"])


@pytest.fixture(scope="module")
def bucket(emulators) -> storage.Bucket:
    return storage.Client(project=PROJECT).bucket(BUCKET)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # every logger, the Google and HTTP clients' too
    return caplog


def sent_photo(runtime, data: bytes, language: str = "en", caption: str = "") -> Photo:
    """A user sends `data`: Telegram keeps it under a file id, which the update carries."""
    stored = runtime.bot.send_document(AnswerTo(UPLOADER), data, filename="upload.bin")
    chat_id = next(ids)
    runtime.db.collection("users").document(str(chat_id)).set({"default_style": "ghibli"})
    return Photo(
        update_id=next(ids),
        chat_id=chat_id,
        user_id=chat_id,
        message_id=1,
        file_id=stored["document"]["file_id"],
        caption=caption,
        language_code=language,
    )


def handle(runtime, event: Photo) -> None:
    validate_prompt.handle_message(pubsub_event_data(encode_event(event)), runtime)


def answers(telegram, chat_id: int) -> list[str]:
    return [
        c.params["text"] for c in telegram.calls("sendMessage") if str(c.params["chat_id"]) == str(chat_id)
    ]


def assert_nothing_secret(runtime, logs: pytest.LogCaptureFixture, job_id: str) -> None:
    document = str(runtime.db.collection("jobs").document(job_id).get().to_dict())
    assert BOT_TOKEN not in logs.text  # ours, the clients' and the fake Bot API's own
    assert BOT_TOKEN not in document and "/file/" not in document


def assert_not_charged(runtime, validated: TopicTap, event: Photo, bucket: storage.Bucket) -> None:
    user = runtime.db.collection("users").document(str(event.user_id)).get().to_dict() or {}
    assert "quota" not in user
    assert validated.quiet(0.5) == []
    assert bucket.get_blob(input_object_name(f"u{event.update_id}")) is None


@pytest.mark.parametrize(
    ("build", "language", "reason", "words"),
    [
        (
            lambda: b"%PDF-1.7\n%\xe2\xe3 a document, not a picture",
            "en",
            "not_an_image",
            "couldn't open this file",
        ),
        (photos.truncated_jpeg, "en", "truncated", "damaged or incomplete"),
        (lambda: photos.png_bomb(30_000), "en", "too_many_pixels", "at most 24 megapixels"),
        (lambda: photos.jpeg(1, 1), "en", "too_small", "at least 256 px"),
        (lambda: photos.jpeg(6000, 300), "en", "too_narrow", "no longer than 2.5:1"),
        (lambda: photos.jpeg(1, 1), "ru", "too_small", "не меньше 256 пикселей"),
        (photos.truncated_jpeg, "ru", "truncated", "повреждена"),
    ],
    ids=[
        "not-an-image",
        "truncated-jpeg",
        "png-bomb-30000",
        "1x1",
        "panorama-20-1",
        "1x1-ru",
        "truncated-ru",
    ],
)
def test_a_bad_file_is_told_in_the_users_language_and_nothing_is_charged(
    runtime, telegram, validated, bucket, logs, build, language, reason, words
):
    event = sent_photo(runtime, build(), language)
    handle(runtime, event)

    (answer,) = answers(telegram, event.chat_id)
    assert words in answer
    job = runtime.jobs.get_job(f"u{event.update_id}")
    assert (job.state, job.reason, job.input_image) == (State.REJECTED, f"photo_{reason}", None)
    assert_not_charged(runtime, validated, event, bucket)
    assert_nothing_secret(runtime, logs, job.job_id)


def test_a_png_with_a_gps_position_is_drawn_from_a_copy_without_it(
    runtime, telegram, validated, bucket, logs
):
    event = sent_photo(runtime, photos.png_with_gps(1200, 900), caption="as a postcard --no cars")
    handle(runtime, event)

    job = runtime.jobs.get_job(f"u{event.update_id}")
    assert (job.state, job.aspect, job.prompt, job.negative_prompt) == (
        State.VALIDATED,
        "landscape",
        "as a postcard",
        "cars",
    )
    assert [m.data.decode() for m in validated.drain(expect=1)] == [job.job_id]
    blob = bucket.get_blob(job.input_image)
    assert blob is not None and blob.content_type == "image/jpeg"
    stored = blob.download_as_bytes()
    image = Image.open(io.BytesIO(stored))
    assert (image.format, image.size, dict(image.getexif())) == ("JPEG", (1152, 896), {})
    for secret in (b"PhoneMaker", b"Moscow", photos.COMMENT, b"GPS"):
        assert secret not in stored
    assert answers(telegram, event.chat_id) == []
    assert_nothing_secret(runtime, logs, job.job_id)


def test_a_failing_download_is_retried_by_redelivery_and_never_shows_the_token(
    runtime, telegram, validated, bucket, logs
):
    event = sent_photo(runtime, photos.jpeg(900, 600))
    message = pubsub_event_data(encode_event(event))
    telegram.inject_fault("downloadFile", error_code=502)
    with pytest.raises(TelegramError) as failed:
        validate_prompt.handle_message(message, runtime)  # Pub/Sub delivers it again
    assert failed.value.transient and BOT_TOKEN not in f"{failed.value} {failed.value!r}"
    assert runtime.jobs.get_job(f"u{event.update_id}") is None and answers(telegram, event.chat_id) == []

    validate_prompt.handle_message(message, runtime)
    assert runtime.jobs.get_job(f"u{event.update_id}").state == State.VALIDATED
    assert len(validated.drain(expect=1)) == 1
    assert_nothing_secret(runtime, logs, f"u{event.update_id}")


def test_a_file_telegram_no_longer_serves_is_told_at_once(runtime, telegram, validated, bucket, logs):
    event = sent_photo(runtime, photos.jpeg(900, 600))
    telegram.inject_fault("downloadFile", error_code=404)
    handle(runtime, event)

    assert answers(telegram, event.chat_id) == [
        "I couldn't get your photo from Telegram. Please send it again."
    ]
    assert runtime.jobs.get_job(f"u{event.update_id}").reason == "photo_fetch_failed"
    assert_not_charged(runtime, validated, event, bucket)
    assert_nothing_secret(runtime, logs, f"u{event.update_id}")
