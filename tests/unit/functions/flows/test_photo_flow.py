"""A user's photo through the flows with in-memory edges: taken, checked, stored and drawn;
refused in words before any charge; redrawn from the stored copy; albums capped once."""

import io
import json
from dataclasses import replace

import pytest
from imagebot.core.contract import input_object_name
from imagebot.core.jobs import State, cache_key
from imagebot.core.updates import Button, Photo, decode_event, encode_event
from imagebot.edges.telegram import DOWNLOAD, FileTooBig, TelegramError
from imagebot.flows import rate_limit, report_failure, report_progress, validate_prompt
from imagebot.steps import delivery
from PIL import Image

from tests.support import photos
from tests.support.events import pubsub_event_data
from tests.support.fakes import FakeServices

CHAT = 7


def photo_event(rt: FakeServices, data: bytes, update_id: int, **fields) -> Photo:
    """The user sends `data`; the fake Bot API keeps it under a file id, as Telegram does."""
    file_id = rt.bot.files.add(data)
    fields.setdefault("message_id", 30)
    return Photo(update_id=update_id, chat_id=CHAT, user_id=CHAT, file_id=file_id, **fields)


def deliver(rt: FakeServices, event) -> None:
    validate_prompt.handle_message(pubsub_event_data(encode_event(event)), rt)


def with_style(style: str = "ghibli") -> FakeServices:
    rt = FakeServices()
    rt.users.update_user(CHAT, default_style=style)
    return rt


def test_a_photo_becomes_a_validated_job_starting_from_its_stored_copy():
    rt = with_style("pixel")
    rt.users.update_user(CHAT, aspect="landscape")  # the photo's own shape wins
    deliver(rt, photo_event(rt, photos.jpeg(600, 900), 601, caption="at night\n--no people"))

    job = rt.jobs.get_job("u601")
    assert (job.state, job.style, job.aspect) == (State.VALIDATED, "pixel", "portrait")
    assert (job.prompt, job.negative_prompt, job.model_prompt) == ("at night", "people", "at night")
    assert job.input_image == input_object_name("u601") == "inputs/u601.jpg"
    stored = Image.open(io.BytesIO(rt.inputs.objects["inputs/u601.jpg"]))
    assert (stored.format, stored.size) == ("JPEG", (896, 1152))
    assert rt.publisher.on("validated") == [b"u601"]
    assert rt.bot.calls == []  # nothing said yet: the status comes with admission


def test_a_photo_without_a_caption_or_a_default_style_gets_the_photo_style_question():
    rt = FakeServices()
    deliver(rt, photo_event(rt, photos.jpeg(), 602, language_code="ru"))
    job = rt.jobs.get_job("u602")
    assert (job.state, job.prompt, job.model_prompt) == (State.AWAITING_STYLE, "", "a picture")
    (question,) = rt.bot.calls
    assert question.params["text"] == "В каком стиле нарисовать ваше фото?"
    assert question.to.reply_to == 30  # under the user's photo
    buttons = question.params["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == [
        f"style:{s}:u602" for s in ("ghibli", "realistic", "pixel")
    ]
    deliver(rt, Button(603, CHAT, CHAT, 101, "cb", "style", ("realistic", "u602")))
    assert rt.jobs.get_job("u602").style == "realistic" and rt.publisher.on("validated") == [b"u602"]


def test_a_photo_with_a_style_from_its_caption_skips_the_question():
    rt = FakeServices()
    deliver(rt, photo_event(rt, photos.jpeg(), 604, style="realistic"))  # "/realistic" (parse_update)
    job = rt.jobs.get_job("u604")
    assert (job.state, job.style, job.prompt) == (State.VALIDATED, "realistic", "")


@pytest.mark.parametrize(
    ("data", "reason", "words"),
    [
        (b"%PDF-1.7 not a picture at all", "photo_not_an_image", "couldn't open this file"),
        (photos.truncated_jpeg(), "photo_truncated", "damaged or incomplete"),
        (photos.png_bomb(), "photo_too_many_pixels", "at most 24 megapixels"),
        (photos.jpeg(1, 1), "photo_too_small", "at least 256 px"),
        (photos.jpeg(6000, 300), "photo_too_narrow", "no longer than 2.5:1"),
    ],
    ids=["not-an-image", "truncated", "bomb", "1x1", "panorama"],
)
def test_a_bad_file_is_refused_in_words_and_nothing_else_happens(data, reason, words):
    rt = with_style()
    deliver(rt, photo_event(rt, data, 610))
    job = rt.jobs.get_job("u610")
    assert (job.state, job.reason) == (State.REJECTED, reason)
    (answer,) = rt.bot.calls
    assert words in answer.params["text"] and answer.to.reply_to == 30
    assert rt.publisher.published == [] and rt.inputs.objects == {}


def test_a_caption_that_is_refused_is_told_before_the_file_is_fetched():
    rt = with_style()
    deliver(rt, photo_event(rt, photos.jpeg(), 611, caption="x" * 501))
    assert rt.jobs.get_job("u611").reason == "too_long" and rt.bot.fetches == []
    assert "at most 500 characters" in rt.bot.texts()[0]


@pytest.mark.parametrize("method", ["getFile", DOWNLOAD])
def test_a_telegram_hiccup_while_fetching_is_raised_for_redelivery_then_drawn_once(method):
    rt = with_style()
    event = photo_event(rt, photos.jpeg(), 612)
    rt.bot.fail_next(method, TelegramError(method, 502, "Bad Gateway"), TelegramError(method, 599, "timeout"))
    for _ in range(2):
        with pytest.raises(TelegramError):
            deliver(rt, event)
    assert rt.jobs.get_job("u612") is None and rt.bot.calls == []
    deliver(rt, event)  # Pub/Sub's third delivery
    assert rt.jobs.get_job("u612").state == State.VALIDATED and rt.publisher.on("validated") == [b"u612"]


def test_a_file_telegram_will_not_give_is_told_at_once():
    rt = with_style()
    event = photo_event(rt, photos.jpeg(), 613)
    rt.bot.fail_next("getFile", TelegramError("getFile", 400, "Bad Request: wrong file_id"))
    deliver(rt, event)
    assert rt.jobs.get_job("u613").reason == "photo_fetch_failed"
    assert rt.bot.texts() == ["I couldn't get your photo from Telegram. Please send it again."]


def test_a_file_over_the_cap_is_too_big_whether_getfile_or_the_download_says_so():
    for update_id, method in ((614, "getFile"), (615, DOWNLOAD)):
        rt = with_style()
        event = photo_event(rt, photos.jpeg(), update_id)
        rt.bot.fail_next(method, FileTooBig(method, 400, "file is too big"))
        deliver(rt, event)
        assert rt.jobs.get_job(f"u{update_id}").reason == "photo_too_big_file"
        assert "at most 20 MB" in rt.bot.texts()[0]


def test_the_photo_is_downloaded_once_even_if_the_user_deletes_it_before_a_redelivery():
    rt = with_style()
    event = photo_event(rt, photos.jpeg(), 616)
    deliver(rt, event)
    rt.jobs.updates.clear()  # as if the first handling had crashed after making the job
    rt.bot.files.files.clear()  # the user deleted the photo: Telegram no longer has it
    deliver(rt, event)
    assert [f.method for f in rt.bot.fetches] == ["getFile", DOWNLOAD]
    assert rt.jobs.get_job("u616").state == State.VALIDATED
    assert rt.publisher.on("validated") == [b"u616", b"u616"]  # a repeat publish, admitted once


def test_a_redelivery_tells_a_refused_file_again_but_leaves_a_job_the_quota_refused_alone():
    rt = with_style()
    refused, charged = photo_event(rt, photos.jpeg(1, 1), 617), photo_event(rt, photos.jpeg(), 618)
    for event in (refused, charged):
        deliver(rt, event)
    rt.jobs.move_job("u618", State.REJECTED, rt.now(), reason="rate")  # rate_limit refused it
    rt.jobs.updates.clear()  # as if both handlings had crashed before finishing
    for event in (refused, charged):
        deliver(rt, event)
    assert rt.bot.texts() == [rt.bot.texts()[0]] * 2 and "at least 256 px" in rt.bot.texts()[0]
    assert rt.publisher.on("validated") == [b"u618"] and len(rt.bot.fetches) == 4


def test_again_and_another_style_redraw_the_stored_photo_without_fetching_it():
    rt = with_style("ghibli")
    deliver(rt, photo_event(rt, photos.jpeg(), 620))
    rt.bot.files.files.clear()
    source = rt.jobs.get_job("u620")
    deliver(rt, Button(621, CHAT, CHAT, 40, "cb", "again", ("u620",)))
    deliver(rt, Button(622, CHAT, CHAT, 40, "cb", "other", ("pixel", "u620")))
    again, other = rt.jobs.get_job("u621"), rt.jobs.get_job("u622")
    assert again.input_image == other.input_image == source.input_image == "inputs/u620.jpg"
    assert (again.style, other.style) == ("ghibli", "pixel")
    assert again.seed != source.seed and again.aspect == source.aspect
    assert again.message_id == source.message_id == 30  # each answers the user's photo
    assert len(rt.bot.fetches) == 2 and list(rt.inputs.objects) == ["inputs/u620.jpg"]
    assert rt.publisher.on("validated") == [b"u620", b"u621", b"u622"]


def test_an_album_is_drawn_up_to_the_limit_and_told_once():
    rt = with_style()
    events = [photo_event(rt, photos.jpeg(), 630 + n, media_group_id="1369") for n in range(6)]
    for event in events:
        deliver(rt, event)
    deliver(rt, events[5])  # a copy of the last one
    assert rt.publisher.on("validated") == [f"u{630 + n}".encode() for n in range(4)]
    assert rt.bot.texts() == ["I'll draw only the first 4 photos of an album."]
    assert rt.jobs.get_job("u634") is None and len(rt.bot.fetches) == 8


def test_a_photo_job_goes_to_the_gpu_with_its_input_and_never_through_the_prompt_cache():
    rt = with_style()
    deliver(rt, photo_event(rt, photos.jpeg(), 640))
    job = rt.jobs.get_job("u640")
    rt.cache.photos[cache_key(job, "normal")] = "file-of-a-text-job"  # same words, style and seed
    rate_limit.handle_message(pubsub_event_data(b"u640"), rt)

    (sent,) = rt.publisher.on("generation-jobs")
    generation = json.loads(sent)
    assert (generation["input_image"], generation["strength"], generation["prompt"]) == (
        "inputs/u640.jpg",
        None,
        "a picture",
    )
    queued = rt.jobs.get_job("u640")
    assert queued.state == State.QUEUED and queued.cache_key is None and not queued.cached


def test_the_delivered_photo_names_its_style_and_is_not_kept_in_the_prompt_cache():
    rt = with_style("pixel")
    deliver(rt, photo_event(rt, photos.jpeg(), 650, caption="in the snow"))
    rate_limit.handle_message(pubsub_event_data(b"u650"), rt)
    job = rt.jobs.move_job("u650", State.GENERATED, rt.now())
    sent = delivery.send_photo(job, rt, photo=("u650.png", b"png", "image/png"))
    assert sent["photo"]
    caption = rt.bot.calls[-1].params["caption"]
    assert caption == f"<b>Pixel Art</b> · from your photo · seed {job.seed}\nin the snow"
    assert rt.bot.calls[-1].to.reply_to == 30
    delivered = rt.jobs.move_job("u650", State.DELIVERED, rt.now(), photo_file_id="file-x")
    delivery.remember(delivered, rt)
    assert rt.cache.photos == {}


def test_a_photo_gone_from_the_bucket_is_told_without_an_again_button():
    rt = with_style()
    deliver(rt, photo_event(rt, photos.jpeg(), 660))
    rate_limit.handle_message(pubsub_event_data(b"u660"), rt)
    rt.jobs.move_job("u660", State.REJECTED, rt.now(), reason="input_missing")
    event = b'{"version": 2, "job_id": "u660", "state": "rejected", "reason": "input_missing"}'
    report_progress.handle_message(pubsub_event_data(event), rt)
    edit = rt.bot.calls[-1]
    assert edit.method == "editMessageText" and "no longer stored" in edit.params["text"]
    assert edit.params.get("reply_markup") is None


@pytest.mark.parametrize(("language", "words"), [("en", "no longer stored"), ("ru", "больше не хранится")])
def test_input_missing_is_told_in_the_users_language(language, words):
    rt = with_style()
    deliver(rt, photo_event(rt, photos.jpeg(), 661, language_code=language))
    rt.jobs.move_job("u661", State.REJECTED, rt.now(), reason="input_missing")
    event = b'{"version": 2, "job_id": "u661", "state": "rejected", "reason": "input_missing"}'
    report_progress.handle_message(pubsub_event_data(event), rt)
    (told,) = rt.bot.calls
    assert words in told.params["text"] and told.to.reply_to == 30


def test_a_failed_photo_job_is_apologised_for_with_a_retry_that_redraws_the_stored_photo():
    rt = with_style()
    deliver(rt, photo_event(rt, photos.jpeg(), 665))
    rate_limit.handle_message(pubsub_event_data(b"u665"), rt)
    dead = pubsub_event_data(b"u665", job_id="u665", CloudPubSubDeadLetterSourceDeliveryCount="5")
    report_failure.handle_dead_letter(dead, rt)
    apology = rt.bot.calls[-1]
    assert apology.params["text"] == "Sorry, I couldn't draw your photo. Tap to try again."
    (retry,) = [b["callback_data"] for row in apology.params["reply_markup"]["inline_keyboard"] for b in row]
    assert retry == "retry:u665"
    deliver(rt, Button(666, CHAT, CHAT, 40, "cb", "retry", ("u665",)))
    redraw = rt.jobs.get_job("u666")
    assert redraw.input_image == "inputs/u665.jpg" and redraw.seed == rt.jobs.get_job("u665").seed


def test_a_photo_whose_retries_ran_out_gets_an_apology():
    rt = FakeServices()
    event = photo_event(rt, photos.jpeg(), 670, language_code="en")
    assert decode_event(encode_event(event)) == event
    report_failure.handle_dead_letter(pubsub_event_data(encode_event(event)), rt)
    assert rt.bot.texts() == ["Sorry, something went wrong with your message. Please send it again."]


def test_a_photo_in_a_forum_topic_is_answered_there_and_its_redraws_and_album_notice_too():
    group, topic = -100, 42
    rt = FakeServices()
    asked = photo_event(rt, photos.jpeg(), 680, message_thread_id=topic)
    deliver(rt, replace(asked, chat_id=group))
    assert rt.jobs.get_job("u680").message_thread_id == topic
    deliver(rt, Button(681, group, CHAT, 40, "cb", "style", ("pixel", "u680"), message_thread_id=topic))
    deliver(rt, Button(682, group, CHAT, 41, "cb", "again", ("u680",), message_thread_id=topic))
    assert rt.jobs.get_job("u682").message_thread_id == topic
    rt.users.update_user(CHAT, default_style="ghibli")  # no more questions: the album's photos are drawn
    for n in range(5):
        album = photo_event(rt, photos.jpeg(), 690 + n, media_group_id="77", message_thread_id=topic)
        deliver(rt, replace(album, chat_id=group, message_id=50 + n))
    refusal = photo_event(rt, photos.jpeg(1, 1), 699, message_thread_id=topic)
    deliver(rt, replace(refusal, chat_id=group, message_id=60))
    question, notice, told = rt.bot.calls
    assert (question.to.chat_id, question.to.message_thread_id, question.to.reply_to) == (group, topic, 30)
    assert "first 4 photos" in notice.params["text"] and notice.to.message_thread_id == topic
    assert notice.to.reply_to == 54  # quoting the first photo left out
    assert "at least 256 px" in told.params["text"] and (told.to.message_thread_id, told.to.reply_to) == (
        topic,
        60,
    )
