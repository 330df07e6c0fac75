"""Photo → style through the whole local stack: the user sends a photo (the fake Bot API keeps
it and serves it by getFile and its download), validate_prompt checks and stores it, the GPU
service draws from it (img2img, the tiny pipeline) and the styled picture comes back as the
answer to the photo. The GPU really drew from the photo: two different photos, same seed,
give measurably different pictures, while the same photo twice gives the same one."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from google.cloud import firestore, storage
from PIL import Image

from local.fake_telegram_client import FakeTelegram, RecordedCall
from tests.conftest import PROJECT
from tests.e2e.conftest import E2E_ALBUM_MAX_PHOTOS, E2E_BUCKET
from tests.support import photos
from tests.support.events import unique_ids
from tests.support.waits import wait_until

pytestmark = pytest.mark.e2e
chats = unique_ids(25_000_000)  # each module its own users: the stack is shared
PHOTO_TIMEOUT = 90.0


def in_chat(chat_id: int, ok: bool = True):
    return lambda call: str(call.params.get("chat_id")) == str(chat_id) and (call.ok or not ok)


def job(job_id: str) -> dict:
    return firestore.Client(project=PROJECT).collection("jobs").document(job_id).get().to_dict() or {}


def user_of(user_id: int) -> dict:
    return firestore.Client(project=PROJECT).collection("users").document(str(user_id)).get().to_dict() or {}


def delivered(telegram: FakeTelegram, chat_id: int, since: int = 0) -> RecordedCall:
    return telegram.wait_for_call("sendPhoto", in_chat(chat_id), since=since, timeout=PHOTO_TIMEOUT)


def pixels(telegram: FakeTelegram, photo: RecordedCall) -> np.ndarray:
    data = telegram.file_bytes(photo.result["photo"][-1]["file_id"])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)


def seed_of(photo: RecordedCall) -> int:
    return int(re.search(r"seed (\d+)", photo.params["caption"]).group(1))


def halves(left: str, right: str, size: tuple[int, int] = (1024, 768)) -> bytes:
    """A photo of two flat colours side by side: what the GPU's input should be built from."""
    image = Image.new("RGB", size, left)
    image.paste(Image.new("RGB", (size[0] // 2, size[1]), right), (size[0] // 2, 0))
    return photos.encoded(image, "JPEG", quality=92)


def test_a_photo_comes_back_in_the_chosen_style_as_the_answer_to_it(telegram):
    chat_id = next(chats)
    sent = telegram.send_photo(chat_id, chat_id, halves("navy", "gold"), language_code="en")
    assert sent.status == 200 and sent.reply is None  # no answer in the webhook: the worker's

    question = telegram.wait_for_call("sendMessage", in_chat(chat_id), timeout=PHOTO_TIMEOUT)
    assert question.params["text"] == "Which style for your photo?"
    user_photo = question.param_json("reply_parameters")["message_id"]
    buttons = question.param_json("reply_markup")["inline_keyboard"][0]
    pixel = next(b["callback_data"] for b in buttons if b["callback_data"].startswith("style:pixel:"))
    telegram.press_button(chat_id, chat_id, question.result["message_id"], pixel)

    photo = delivered(telegram, chat_id)
    assert photo.params["caption"].startswith("<b>Pixel Art</b> · from your photo · seed ")
    assert photo.param_json("reply_parameters")["message_id"] == user_photo
    drawn = job(f"u{sent.update_id}")
    assert drawn["input_image"] == f"inputs/u{sent.update_id}.jpg" and drawn["aspect"] == "landscape"
    stored = storage.Client(project=PROJECT).bucket(E2E_BUCKET).get_blob(drawn["input_image"])
    assert stored is not None and Image.open(io.BytesIO(stored.download_as_bytes())).size == (1152, 896)
    height, width, _ = pixels(telegram, photo).shape
    assert width > height  # drawn in the photo's own shape
    fetched = len(telegram.calls("getFile"))

    # Again: the same stored photo, a new seed; another style: the same photo in that style.
    keyboard = photo.param_json("reply_markup")["inline_keyboard"]
    since = telegram.last_seq()
    telegram.press_button(chat_id, chat_id, photo.result["message_id"], keyboard[0][0]["callback_data"])
    again = delivered(telegram, chat_id, since)
    assert again.params["caption"].startswith("<b>Pixel Art</b> · from your photo")
    assert seed_of(again) != seed_of(photo)
    other = next(b["callback_data"] for b in keyboard[1] if b["callback_data"].startswith("other:ghibli:"))
    since = telegram.last_seq()
    telegram.press_button(chat_id, chat_id, photo.result["message_id"], other)
    restyled = delivered(telegram, chat_id, since)
    assert restyled.params["caption"].startswith("<b>Ghibli Art</b> · from your photo")
    for redraw in (again, restyled):
        assert redraw.param_json("reply_parameters")["message_id"] == user_photo
        assert job(job_of(redraw))["input_image"] == drawn["input_image"]
    assert len(telegram.calls("getFile")) == fetched  # redrawn from the stored copy, not fetched again


def job_of(photo: RecordedCall) -> str:
    """The job a delivered photo's buttons name (their last argument)."""
    return photo.param_json("reply_markup")["inline_keyboard"][0][0]["callback_data"].rsplit(":", 1)[-1]


def test_the_gpu_draws_from_the_photo_two_photos_same_seed_differ(telegram):
    """Realistic, no caption: every such job has the same seed (it comes from the words, of
    which there are none), so only the input can make the pictures differ."""
    inputs = {
        "a": halves("navy", "gold"),
        "a again": halves("navy", "gold"),
        "b": photos.encoded(photos.noisy(1024, 768), "JPEG", quality=92),
    }
    sent = {}
    for name, data in inputs.items():
        chat_id = next(chats)
        telegram.send_photo(chat_id, chat_id, data, caption="/realistic")
        sent[name] = delivered(telegram, chat_id)

    assert len({seed_of(photo) for photo in sent.values()}) == 1
    a, a_again, b = (pixels(telegram, sent[name]) for name in ("a", "a again", "b"))
    same = float(np.abs(a - a_again).mean())
    different = float(np.abs(a - b).mean())
    # Mean absolute difference per channel (0..255): the tiny pipeline draws the same photo
    # the same way (0.0 measured), and two photos about 3.7 apart.
    assert different > 1.0 and different > 10 * same + 0.5, (same, different)


def test_an_album_is_drawn_up_to_the_limit_and_told_once(telegram):
    chat_id = next(chats)
    # A default style (/start's buttons): an album's caption is on its first photo only.
    start = telegram.send_text(chat_id=chat_id, user_id=chat_id, text="/start")
    assert (
        telegram.press_button(chat_id, chat_id, start.reply.result["message_id"], "default:pixel").status
        == 200
    )
    wait_until(lambda: user_of(chat_id).get("default_style") == "pixel", 30, "the default style")
    count = E2E_ALBUM_MAX_PHOTOS + 2
    colours = ("teal", "olive", "maroon", "purple", "gray", "orange")[:count]
    results = telegram.send_album(chat_id, chat_id, [halves(c, "white") for c in colours])
    assert [r.status for r in results] == [200] * count

    def drawn() -> bool:
        return len([c for c in telegram.calls("sendPhoto") if in_chat(chat_id)(c)]) >= E2E_ALBUM_MAX_PHOTOS

    wait_until(drawn, PHOTO_TIMEOUT * 2, "the album's photos")
    told = [c.params["text"] for c in telegram.calls("sendMessage") if in_chat(chat_id)(c)]
    limit_notes = [t for t in told if t.startswith("I'll draw only the first")]
    assert limit_notes == [f"I'll draw only the first {E2E_ALBUM_MAX_PHOTOS} photos of an album."]
    jobs = [job(f"u{r.update_id}") for r in results]
    assert sum(1 for j in jobs if j) == E2E_ALBUM_MAX_PHOTOS


def test_a_file_that_is_no_picture_is_told_and_makes_no_photo(telegram):
    chat_id = next(chats)
    sent = telegram.send_photo(
        chat_id, chat_id, b"%PDF-1.7 a contract", file_name="contract.pdf", mime_type="image/png"
    )
    answer = telegram.wait_for_call("sendMessage", in_chat(chat_id), timeout=PHOTO_TIMEOUT)
    assert answer.params["text"].startswith("I couldn't open this file as a picture.")
    assert wait_until(lambda: job(f"u{sent.update_id}").get("state"), 10, "the job") == "rejected"
    assert [c for c in telegram.calls("sendPhoto") if in_chat(chat_id)(c)] == []


def test_a_getfile_failure_is_retried_and_the_photo_still_comes(telegram):
    chat_id = next(chats)
    telegram.inject_fault("getFile", error_code=502)
    try:
        telegram.send_photo(chat_id, chat_id, halves("black", "pink"), caption="/ghibli")
        photo = delivered(telegram, chat_id)
    finally:
        telegram.clear_faults()
    assert photo.params["caption"].startswith("<b>Ghibli Art</b> · from your photo")
    failed = [c for c in telegram.calls("getFile") if not c.ok]
    assert failed and failed[-1].status == 502


def test_a_photo_sent_in_a_forum_topic_is_answered_in_the_topic(telegram):
    group, member, topic = -next(chats), next(chats), 11
    sent = telegram.send_photo(
        group,
        member,
        halves("teal", "white"),
        caption="/pixel",
        chat_type="supergroup",
        message_thread_id=topic,
    )
    assert sent.status == 200
    photo = delivered(telegram, group)
    status = telegram.wait_for_call("sendMessage", in_chat(group), timeout=PHOTO_TIMEOUT)
    for call in (status, photo):
        assert str(call.params["message_thread_id"]) == str(topic)
        assert call.result["message_thread_id"] == topic  # the fake placed it in the topic
        assert "photo" in call.result["reply_to_message"]  # quoting the user's photo
    assert job(f"u{sent.update_id}")["message_thread_id"] == topic
