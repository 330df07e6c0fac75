"""validate_prompt against the Firestore and Pub/Sub emulators and the fake Bot API."""

from __future__ import annotations

import pytest
from imagebot.core import keyboards
from imagebot.core.jobs import State
from imagebot.core.updates import Button, Prompt, encode_event
from imagebot.flows import validate_prompt

from tests.conftest import PROJECT
from tests.integration.functions.conftest import TOPICS
from tests.support.events import pubsub_event_data, unique_ids
from tests.support.pubsub import TopicTap

ids = unique_ids(8_000_000)


@pytest.fixture
def validated(emulators) -> TopicTap:
    return TopicTap(PROJECT, TOPICS["VALIDATED_TOPIC"])


def prompt_event(text: str, chat_id: int, language: str = "en") -> Prompt:
    return Prompt(
        update_id=next(ids), chat_id=chat_id, user_id=chat_id, message_id=1, text=text, language_code=language
    )


def bot_messages(telegram, chat_id: int) -> list:
    return [call for call in telegram.calls("sendMessage") if str(call.params["chat_id"]) == str(chat_id)]


def test_a_prompt_without_a_default_style_asks_once_even_when_redelivered(runtime, telegram, validated):
    event = prompt_event("  a fox\u200b in the snow ", chat_id=next(ids))
    data = pubsub_event_data(encode_event(event))
    validate_prompt.handle_message(data, runtime)
    validate_prompt.handle_message(data, runtime)

    (question,) = bot_messages(telegram, event.chat_id)
    keyboard = question.param_json("reply_markup")["inline_keyboard"][0]
    assert [button["callback_data"] for button in keyboard] == [
        keyboards.encode("style", style, f"u{event.update_id}") for style in ("ghibli", "realistic", "pixel")
    ]
    job = runtime.jobs.get_job(f"u{event.update_id}")
    assert job.state == State.AWAITING_STYLE and job.prompt == "a fox in the snow"
    assert job.status_message_id == question.result["message_id"]
    assert validated.quiet(0.5) == []


def test_a_user_with_a_default_style_goes_straight_on(runtime, telegram, validated):
    event = prompt_event("a castle", chat_id=next(ids))
    runtime.db.collection("users").document(str(event.user_id)).set({"default_style": "pixel"})
    validate_prompt.handle_message(pubsub_event_data(encode_event(event)), runtime)

    job = runtime.jobs.get_job(f"u{event.update_id}")
    assert (job.state, job.style) == (State.VALIDATED, "pixel")
    assert {"received", "validated"} <= set(job.times)
    (message,) = validated.drain(expect=1)
    assert message.data.decode() == f"u{event.update_id}"
    assert bot_messages(telegram, event.chat_id) == []


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("\u200b \u2060", "en", "Your prompt is empty"),
        ("x" * 501, "en", "at most 500 characters"),
        ("x" * 501, "ru", "не больше 500 символов"),
    ],
)
def test_a_rejected_prompt_gets_a_clear_answer_and_no_job_runs(
    runtime, telegram, validated, text, language, expected
):
    event = prompt_event(text, chat_id=next(ids), language=language)
    validate_prompt.handle_message(pubsub_event_data(encode_event(event)), runtime)

    (answer,) = bot_messages(telegram, event.chat_id)
    assert expected in answer.params["text"]
    job = runtime.jobs.get_job(f"u{event.update_id}")
    assert job.state == State.REJECTED and job.reason in ("empty", "too_long")
    assert validated.quiet(0.5) == []


def test_the_first_style_press_wins_and_later_presses_do_nothing(runtime, telegram, validated):
    event = prompt_event("a red kite", chat_id=next(ids))
    validate_prompt.handle_message(pubsub_event_data(encode_event(event)), runtime)
    job_id = f"u{event.update_id}"

    for style in ("realistic", "ghibli"):
        press = Button(next(ids), event.chat_id, event.user_id, 1, "cbq", "style", (style, job_id))
        validate_prompt.handle_message(pubsub_event_data(encode_event(press)), runtime)

    job = runtime.jobs.get_job(job_id)
    assert (job.state, job.style) == (State.VALIDATED, "realistic")
    assert [m.data.decode() for m in validated.drain(expect=2, timeout=2)] == [job_id]


def test_undecodable_messages_are_dropped_without_raising(runtime, validated):
    validate_prompt.handle_message({"message": {"data": "!!not base64"}}, runtime)
    validate_prompt.handle_message(pubsub_event_data(b'{"v": 1, "kind": "prompt"}'), runtime)
    assert validated.quiet(0.5) == []
