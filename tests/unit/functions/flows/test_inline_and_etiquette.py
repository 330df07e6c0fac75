"""Inline mode and group etiquette with in-memory edges: an inline query is answered in the
webhook's reply, a chosen draw result becomes a job whose photo replaces the placed message,
and someone else's press on a requester-only button is a toast and nothing more."""

import json

from imagebot.chat.lookups import WebhookLookups
from imagebot.core.jobs import Job, State, cache_key, seed_for_prompt
from imagebot.core.updates import ChosenInline, encode_event
from imagebot.edges.telegram import TelegramError
from imagebot.flows import deliver_image, rate_limit, report_progress, telegram_webhook, validate_prompt

from tests.support.events import pubsub_event_data
from tests.support.fakes import SETTINGS, FakeServices
from tests.support.images import png
from tests.support.jobs import job_doc


def webhook(rt, update, lookups=True):
    raw = json.dumps(update).encode()
    reads = WebhookLookups(rt) if lookups else None
    return telegram_webhook.handle_update(raw, SETTINGS, rt.publisher, rt.users.get_user, reads)


def inline_query(text, user_id=7, language_code="en"):
    sender = {"id": user_id, "language_code": language_code}
    return {"update_id": 900, "inline_query": {"id": "q1", "from": sender, "query": text, "offset": ""}}


def test_an_inline_query_is_answered_in_the_reply_with_matching_pictures_and_draw_results():
    rt = FakeServices()
    rt.users.update_user(
        7, history=[{"job_id": "u1", "file_id": "F1", "style": "pixel", "prompt": "a red fox"}]
    )
    reply = webhook(rt, inline_query("red fox"))
    assert reply.status == 200 and reply.body["method"] == "answerInlineQuery"
    ids = [result["id"] for result in reply.body["results"]]
    assert ids == ["h:u1", "draw:ghibli", "draw:realistic", "draw:pixel"]
    assert rt.publisher.published == []  # nothing for the worker: the reply is the answer


def test_a_picture_in_the_prompt_cache_is_offered_by_its_file_id():
    rt = FakeServices()
    probe = job_doc("x", 7, State.VALIDATED, prompt="a paper boat", style="ghibli", seed=None)
    job = Job.from_doc({**probe, "seed": seed_for_prompt("a paper boat")})
    rt.cache.photos[cache_key(job, "normal")] = "CACHED"
    results = webhook(rt, inline_query("a paper boat")).body["results"]
    assert results[0] == {**results[0], "id": "c:ghibli", "photo_file_id": "CACHED"}


def test_without_its_reads_the_inline_answer_still_offers_to_draw():
    class Broken:
        def requester_of(self, job_id):
            raise TimeoutError

        def inline_answer(self, query):
            raise TimeoutError("firestore is slow")

    raw = json.dumps(inline_query("a cat", language_code="ru")).encode()
    reply = telegram_webhook.handle_update(raw, SETTINGS, FakeServices().publisher, lambda _: {}, Broken())
    assert [r["title"] for r in reply.body["results"]][0] == "🎨 Нарисовать: Ghibli Art"
    assert webhook(FakeServices(), inline_query("x"), lookups=False).body["results"] == []  # too short


def test_a_chosen_draw_result_becomes_a_job_told_and_delivered_on_the_placed_message():
    rt = FakeServices()
    chosen = ChosenInline(901, 7, "draw:pixel", "a lighthouse", inline_message_id="IM1")
    reply = webhook(
        rt,
        {
            "update_id": 901,
            "chosen_inline_result": {
                "result_id": "draw:pixel",
                "from": {"id": 7},
                "query": "a lighthouse",
                "inline_message_id": "IM1",
            },
        },
    )
    assert reply.status == 200 and reply.body == {}
    [(topic, data, _)] = rt.publisher.published
    sent = json.loads(data)
    assert topic == "prompts" and (sent["kind"], sent["result_id"], sent["query"]) == (
        "chosen_inline",
        "draw:pixel",
        "a lighthouse",
    )
    validate_prompt.handle_message(pubsub_event_data(encode_event(chosen)), rt)
    job = rt.jobs.get_job("u901")
    assert (job.state, job.style, job.inline_message_id, job.chat_id) == (State.VALIDATED, "pixel", "IM1", 7)

    rate_limit.handle_message(pubsub_event_data(b"u901", job_id="u901"), rt)
    rt.jobs.move_job("u901", State.GENERATING, rt.now())
    report_progress.handle_message(pubsub_event_data(b'{"job_id": "u901", "state": "generating"}'), rt)
    status = [call for call in rt.bot.calls if call.method == "editMessageText"]
    assert [call.params["inline_message_id"] for call in status] == ["IM1", "IM1"]
    assert (
        status[0].params["text"].startswith("⏳ Pixel Art")
        and status[1].params["text"] == "🎨 Drawing Pixel Art…"
    )
    assert all("cancel:" not in json.dumps(call.params) for call in status)  # its buttons can't reach us
    assert "sendChatAction" not in rt.bot.methods()  # the private chat may not be open

    rt.objects[("images", "outputs/u901.png")] = png()
    event = {"bucket": "images", "name": "outputs/u901.png", "generation": "1", "contentType": "image/png"}
    deliver_image.handle_event({**event, "metadata": {}}, "event-1", rt)
    photo, edit = [call for call in rt.bot.calls if call.method in ("sendPhoto", "editMessageMedia")]
    assert photo.chat_id == 7 and not isinstance(photo.params["photo"], str)  # uploaded once, privately
    file_id = f"file-{rt.jobs.get_job('u901').delivered_message_id}"
    assert edit.params["inline_message_id"] == "IM1" and edit.params["media"] == file_id
    assert rt.jobs.get_job("u901").state == State.DELIVERED


def test_an_inline_prompt_refused_says_so_on_the_placed_message():
    rt = FakeServices()
    chosen = ChosenInline(902, 7, "draw:ghibli", "x", inline_message_id="IM2")
    validate_prompt.handle_message(pubsub_event_data(encode_event(chosen)), rt)
    [told] = rt.bot.calls
    assert told.params["inline_message_id"] == "IM2" and told.params["text"].startswith(
        "Your prompt is too short"
    )
    assert rt.jobs.get_job("u902").state == State.REJECTED


def test_a_user_who_never_opened_the_bot_is_told_on_the_placed_message():
    rt = FakeServices()
    rt.jobs.docs["u3"] = job_doc("u3", 7, State.GENERATED, inline_message_id="IM3", message_id=None)
    rt.objects[("images", "outputs/u3.png")] = png()
    rt.bot.fail_next(
        "sendPhoto", TelegramError("sendPhoto", 403, "Forbidden: bot can't initiate conversation")
    )
    event = {"bucket": "images", "name": "outputs/u3.png", "generation": "1", "contentType": "image/png"}
    deliver_image.handle_event({**event, "metadata": {}}, "event-1", rt)
    assert rt.bot.texts() == ["To get pictures here, open a chat with me first (tap Start), then try again."]
    assert rt.jobs.get_job("u3").state == State.FAILED


def test_in_a_group_only_the_requester_may_press_and_others_get_a_toast():
    rt = FakeServices()
    rt.jobs.docs["u9"] = job_doc("u9", 7, State.DELIVERED)  # user 7's picture in group -100

    def press(user_id, data, update_id):
        return webhook(
            rt,
            {
                "update_id": update_id,
                "callback_query": {
                    "id": f"cb{update_id}",
                    "from": {"id": user_id},
                    "data": data,
                    "message": {"message_id": 4, "chat": {"id": -100, "type": "supergroup"}},
                },
            },
        )

    for data in (
        "again:u9",
        "other:pixel:u9",
        "same:pixel:u9",
        "file:u9",
        "drawn:u9",
        "retry:u9",
        "cancel:u9",
    ):
        toast = press(8, data, 903)
        assert toast.body["method"] == "answerCallbackQuery"
        assert toast.body["text"] == "Only the one who asked for this picture can use its buttons."
    assert rt.publisher.published == []
    assert press(7, "again:u9", 904).body["text"] == "🔁 Drawing again…" and len(rt.publisher.published) == 1
    assert press(8, "default:pixel", 905).body["text"].startswith("Default style")  # anyone's own setting
