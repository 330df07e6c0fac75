"""/history with in-memory edges: the pictures again, captioned as they were delivered."""

from imagebot.chat import account
from imagebot.core.jobs import State
from imagebot.core.updates import Command
from imagebot.flows import deliver_image

from tests.support.fakes import FakeServices
from tests.support.images import png
from tests.support.jobs import job_doc


def test_history_keeps_what_the_picture_left_out_and_answers_in_the_topic():
    rt = FakeServices()
    rt.jobs.docs["u1"] = job_doc("u1", -100, State.GENERATED, user_id=7, negative_prompt="blurry, text")
    rt.objects[("images", "outputs/u1.png")] = png()
    finalized = {"bucket": "images", "name": "outputs/u1.png", "generation": "1", "contentType": "image/png"}
    deliver_image.handle_event({**finalized, "metadata": {}}, "event-1", rt)
    assert rt.users.get_user(7)["history"][0]["negative_prompt"] == "blurry, text"

    account.resend_history(Command(2, -100, 7, 9, "history", "", "en", message_thread_id=42), rt)
    photo = rt.bot.calls[-1]
    assert photo.method == "sendPhoto" and photo.params["photo"] == rt.jobs.get_job("u1").photo_file_id
    assert (
        photo.params["caption"] == "<b>Ghibli Art</b>\na paper boat on a pond\n<i>without:</i> blurry, text"
    )
    assert (photo.to.message_thread_id, photo.to.reply_to) == (42, 9)


def test_history_from_before_negatives_were_kept_still_shows():
    rt = FakeServices()
    rt.users.add_to_history(7, {"job_id": "u1", "file_id": "f1", "style": "pixel", "prompt": "a cat"})
    account.resend_history(Command(2, 7, 7, 9, "history", "", "ru"), rt)
    assert rt.bot.calls[-1].params["caption"] == "<b>Pixel Art</b>\na cat"
