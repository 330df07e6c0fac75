"""report_progress against the Firestore emulator and the fake Bot API."""

from __future__ import annotations

import json

from imagebot.core.answer_to import AnswerTo
from imagebot.core.jobs import State
from imagebot.flows import report_progress

from tests.support.events import pubsub_event_data, unique_ids
from tests.support.jobs import put_job

ids = unique_ids(12_000_000)


def progress_event(job_id: str) -> dict:
    return pubsub_event_data(json.dumps({"version": 1, "job_id": job_id, "state": "generating"}).encode())


def test_the_status_says_drawing_and_the_chat_shows_upload_photo(runtime, telegram):
    chat_id, job_id = next(ids), f"u{next(ids)}"
    status_id = runtime.bot.send_message(AnswerTo(chat_id), "⏳ queued")["message_id"]
    put_job(
        runtime, job_id, chat_id, State.GENERATING, style="pixel", language="ru", status_message_id=status_id
    )
    report_progress.handle_message(progress_event(job_id), runtime)

    (edit,) = telegram.calls("editMessageText")
    assert (edit.params["message_id"], edit.params["text"]) == (status_id, "🎨 Рисую: Pixel Art…")
    (action,) = telegram.calls("sendChatAction")
    assert action.params["action"] == "upload_photo" and str(action.params["chat_id"]) == str(chat_id)


def test_progress_arriving_after_the_photo_changes_nothing(runtime, telegram):
    chat_id, job_id = next(ids), f"u{next(ids)}"
    put_job(runtime, job_id, chat_id, State.DELIVERED, status_message_id=5)
    report_progress.handle_message(progress_event(job_id), runtime)
    report_progress.handle_message(pubsub_event_data(b'{"job_id": "../x", "state": "generating"}'), runtime)
    assert telegram.calls() == []


def test_a_429_from_telegram_is_waited_out_and_the_photo_still_arrives(runtime, telegram):
    from imagebot.flows import deliver_image

    from tests.integration.functions.test_deliver_image import upload_output

    chat_id, job_id = next(ids), f"u{next(ids)}"
    job = put_job(runtime, job_id, chat_id, State.GENERATED)
    telegram.inject_fault("sendPhoto", error_code=429, retry_after=1)
    deliver_image.handle_event(upload_output(job), "event-429", runtime)

    attempts = telegram.calls("sendPhoto")
    assert [call.status for call in attempts] == [429, 200]
    assert attempts[1].time - attempts[0].time >= 1.0  # retry_after honoured
    assert runtime.jobs.get_job(job_id).state == State.DELIVERED


def test_a_flagged_picture_is_told_plainly_in_the_users_language_with_again(runtime, telegram):
    chat_id, job_id = next(ids), f"u{next(ids)}"
    status_id = runtime.bot.send_message(AnswerTo(chat_id), "🎨 drawing")["message_id"]
    put_job(
        runtime, job_id, chat_id, State.REJECTED, language="ru", reason="flagged", status_message_id=status_id
    )
    body = {"version": 1, "job_id": job_id, "state": "rejected", "reason": "flagged"}

    report_progress.handle_message(pubsub_event_data(json.dumps(body).encode()), runtime)

    (edit,) = telegram.calls("editMessageText")
    assert edit.params["message_id"] == status_id
    assert edit.params["text"] == (
        "Эту картинку я отправить не могу: фильтр счёл её недопустимой. "
        "Нажмите 🔁 Ещё раз, чтобы нарисовать другую."
    )
    markup = edit.params["reply_markup"]
    (button,) = (json.loads(markup) if isinstance(markup, str) else markup)["inline_keyboard"][0]
    assert button["text"] == "🔁 Ещё раз" and job_id in button["callback_data"]
    assert button["callback_data"].startswith("again")
