"""Prompt translation (and /enhance) through the real Vertex AI SDK (REST transport) against a local stand-in
speaking Vertex AI's generateContent protocol, with the Firestore and Pub/Sub emulators."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace

import pytest
from imagebot.core import keyboards, texts
from imagebot.core.answer_to import AnswerTo
from imagebot.core.jobs import Job, State
from imagebot.core.ops import Mode, Ops
from imagebot.core.updates import Button, Command, Prompt, encode_event
from imagebot.edges.translation import STYLE_HINTS, cache_key
from imagebot.flows import rate_limit, validate_prompt
from imagebot.runtime import Runtime

from gpu_service.contract import GenerationJob as GpuSideJob
from local.fake_vertex import ENHANCEMENT, SAFETY_VERDICTS, FakeVertex, translate_words
from tests.conftest import PROJECT
from tests.integration.functions.conftest import TOPICS
from tests.support.events import pubsub_event_data, unique_ids
from tests.support.images import png
from tests.support.pubsub import TopicTap

ids = unique_ids(15_000_000)

MODEL = "gemini-2.5-flash"


@pytest.fixture(scope="module")
def vertex() -> Iterator[FakeVertex]:
    fake = FakeVertex().start()
    yield fake
    fake.stop()


def translating_runtime(runtime: Runtime, vertex: FakeVertex, timeout: float) -> Runtime:
    """The functions' Runtime with translation on, pointed at the stand-in."""
    vertex.reset()
    settings = replace(
        runtime.settings,
        translate_model=MODEL,
        vertex_api_endpoint=vertex.endpoint,
        translate_timeout_seconds=timeout,
    )
    return Runtime(settings)


@pytest.fixture
def translating(runtime: Runtime, vertex: FakeVertex) -> Runtime:
    # Generous: a first call builds the SDK's client, which on a busy 2-core machine is slow.
    return translating_runtime(runtime, vertex, timeout=15.0)


@pytest.fixture
def generation(emulators) -> TopicTap:
    return TopicTap(PROJECT, TOPICS["GENERATION_TOPIC"])


def send_prompt(rt: Runtime, text: str) -> Job:
    chat_id = next(ids)
    rt.users.update_user(chat_id, default_style="ghibli")
    event = Prompt(
        update_id=next(ids), chat_id=chat_id, user_id=chat_id, message_id=1, text=text, language_code="ru"
    )
    validate_prompt.handle_message(pubsub_event_data(encode_event(event)), rt)
    return rt.jobs.get_job(f"u{event.update_id}")


def test_a_russian_prompt_is_drawn_in_english_and_the_user_keeps_their_words(translating, vertex, generation):
    prompt = f"рыжая лиса в снегу {next(ids)}"  # unique: no cached translation from an earlier run
    before = translating.cache.translation_counts()

    job = send_prompt(translating, prompt)

    assert job.state == State.VALIDATED
    assert (job.prompt, job.model_prompt) == (prompt, f"red fox in the snow {prompt.rsplit(' ', 1)[1]}")
    assert [call["model"] for call in vertex.calls] == [MODEL]
    counts = translating.cache.translation_counts()
    assert counts["calls"] == before.get("calls", 0) + 1
    assert counts["input_chars"] > before.get("input_chars", 0) + len(prompt)
    assert counts["output_tokens"] > before.get("output_tokens", 0)

    rate_limit.handle_message(pubsub_event_data(job.job_id.encode()), translating)

    sent = [GpuSideJob.from_json(m.data) for m in generation.drain(expect=1, timeout=5)]
    assert [(j.job_id, j.prompt) for j in sent] == [(job.job_id, job.model_prompt)]


def test_a_repeated_prompt_is_answered_from_the_cache(translating, vertex):
    prompt = f"кот на море {next(ids)}"

    first, second = send_prompt(translating, prompt), send_prompt(translating, prompt)

    assert first.model_prompt == second.model_prompt == f"cat on sea {prompt.rsplit(' ', 1)[1]}"
    assert vertex.calls_for(prompt) == 1


def test_a_slow_model_is_abandoned_and_the_original_prompt_drawn(runtime, vertex, caplog):
    impatient = translating_runtime(runtime, vertex, timeout=1.0)
    prompt = f"ночной город {next(ids)}"
    vertex.delay_seconds = 4.0

    with caplog.at_level(logging.WARNING, logger="imagebot.edges.translation"):
        job = send_prompt(impatient, prompt)

    assert job.state == State.VALIDATED
    assert job.model_prompt == prompt
    assert "translation timed out; drawing the original prompt" in caplog.messages
    assert vertex.calls_for(prompt) == 1  # it was asked, and not waited for
    # A fallback is not a translation: the next attempt asks again.
    assert impatient.cache.cached_translation(cache_key(prompt, MODEL), impatient.now()) is None


@pytest.mark.parametrize("verdict", SAFETY_VERDICTS)
def test_a_prompt_gemini_judges_unsafe_is_refused_as_the_blocklist_refuses_one(
    translating, vertex, telegram, verdict
):
    # Each of Gemini's ways of saying no: the prompt blocked, the answer stopped for safety,
    # a translation rated HIGH. The blocklist passes the prompt; the model's judgement does not.
    prompt = f"рыжая лиса {verdict} {next(ids)}"

    job = send_prompt(translating, prompt)

    assert (job.state, job.reason) == (State.REJECTED, "blocked")
    assert vertex.calls_for(prompt) == 1
    assert telegram.calls("sendMessage")[-1].params["text"] == texts.render(job.language, "rejected_blocked")
    assert translating.cache.cached_translation(cache_key(prompt, MODEL), translating.now()) is None
    assert translating.cache.translation_counts()["refusals"] >= 1


def test_english_prompts_and_economy_mode_make_no_model_call(translating, vertex):
    english = send_prompt(translating, "a fox in the snow")
    translating.config.set_ops(Ops(Mode.ECONOMY, "test", "budget"))
    try:
        russian = send_prompt(translating, f"замок в горы {next(ids)}")
    finally:
        translating.config.set_ops(Ops())

    assert english.model_prompt == "a fox in the snow"
    assert russian.model_prompt == russian.prompt
    assert vertex.calls == []


def test_without_a_translate_model_prompts_go_as_written(runtime, vertex):
    assert runtime.translator is None
    job = send_prompt(runtime, f"рыжая лиса {next(ids)}")

    assert job.model_prompt == job.prompt


def command(rt: Runtime, chat_id: int, name: str) -> None:
    event = Command(
        update_id=next(ids), chat_id=chat_id, user_id=chat_id, message_id=1, name=name, language_code="en"
    )
    validate_prompt.handle_message(pubsub_event_data(encode_event(event)), rt)


def test_enhance_toggles_and_expands_prompts_for_the_style(translating, vertex, telegram):
    chat_id = next(ids)
    translating.users.update_user(chat_id, default_style="pixel")

    command(translating, chat_id, "enhance")
    event = Prompt(
        update_id=next(ids), chat_id=chat_id, user_id=chat_id, message_id=1, text="a fox", language_code="en"
    )
    validate_prompt.handle_message(pubsub_event_data(encode_event(event)), translating)
    command(translating, chat_id, "enhance")

    job = translating.jobs.get_job(f"u{event.update_id}")
    assert (job.prompt, job.model_prompt) == ("a fox", "a fox" + ENHANCEMENT)
    (call,) = vertex.calls
    assert call["prompt"] == "a fox"
    replies = [
        c.params["text"] for c in telegram.calls("sendMessage") if str(c.params["chat_id"]) == str(chat_id)
    ]
    assert [text.split(":")[0] for text in replies] == ["✨ Detailed prompts on", "Detailed prompts off"]
    assert translating.users.get_user(chat_id)["enhance"] is False


def test_enhance_without_a_translation_model_says_it_is_unavailable(runtime, telegram):
    chat_id = next(ids)

    command(runtime, chat_id, "enhance")

    (reply,) = [
        c.params["text"] for c in telegram.calls("sendMessage") if str(c.params["chat_id"]) == str(chat_id)
    ]
    assert reply == "Detailed prompts are not available right now."
    assert "enhance" not in runtime.users.get_user(chat_id)


def press(rt: Runtime, chat_id: int, action: str, *args: str) -> str:
    """A button press; returns the job id it makes (for draw-again buttons)."""
    update_id = next(ids)
    button = Button(update_id, chat_id, chat_id, 1, "cbq", action, args, "en")
    validate_prompt.handle_message(pubsub_event_data(encode_event(button)), rt)
    return f"u{update_id}"


def test_an_enhanced_prompt_waits_for_its_style_and_follows_it_to_another(translating, vertex, telegram):
    chat_id = next(ids)  # no default style: the bot asks for one
    translating.users.update_user(chat_id, enhance=True)
    prompt = f"рыжая лиса {next(ids)}"
    event = Prompt(
        update_id=next(ids), chat_id=chat_id, user_id=chat_id, message_id=1, text=prompt, language_code="ru"
    )
    validate_prompt.handle_message(pubsub_event_data(encode_event(event)), translating)
    job_id = f"u{event.update_id}"

    waiting = translating.jobs.get_job(job_id)
    assert waiting.state == State.AWAITING_STYLE and waiting.enhance is True
    assert waiting.model_prompt == translate_words(prompt)  # translated, not yet enhanced
    press(translating, chat_id, "style", "pixel", job_id)

    drawn = translating.jobs.get_job(job_id)
    assert drawn.state == State.VALIDATED and drawn.model_prompt == translate_words(prompt) + ENHANCEMENT
    assert [STYLE_HINTS["pixel"] in call["text"] for call in vertex.calls] == [False, True]

    # "Same seed, other style" from the pixel picture: enhanced again, for Ghibli, from the user's words.
    other = translating.jobs.get_job(press(translating, chat_id, "same", "ghibli", job_id))
    assert other.style == "ghibli" and other.enhance is True and other.seed == drawn.seed
    assert STYLE_HINTS["ghibli"] in vertex.calls[-1]["text"] and vertex.calls[-1]["prompt"] == prompt
    # "Again" in the same style draws the same enhanced prompt: no new model call.
    calls = len(vertex.calls)
    again = translating.jobs.get_job(press(translating, chat_id, "again", job_id))
    assert again.model_prompt == drawn.model_prompt and len(vertex.calls) == calls


def test_the_english_a_photo_was_drawn_from_is_shown_in_its_caption_on_request(translating, vertex, telegram):
    chat_id = next(ids)
    prompt = f"кот в космос {next(ids)}"
    job = send_prompt(translating, prompt)
    photo = translating.bot.send_photo(
        AnswerTo(chat_id),
        ("cat.png", png(8, 8, "orange"), "image/png"),
        caption="ghibli",
        reply_markup=keyboards.photo_actions(job.job_id, "ghibli", "ru", drawn_as=True),
    )
    translating.jobs.set_job_fields(
        job.job_id, chat_id=chat_id, user_id=chat_id, delivered_message_id=photo["message_id"]
    )

    press(translating, chat_id, "drawn", job.job_id)

    (edit,) = telegram.calls("editMessageCaption")
    assert edit.params["message_id"] == photo["message_id"]
    assert f"{prompt}\n<i>нарисовано по:</i> {translate_words(prompt)}" in edit.params["caption"]
    assert "drawn:" not in json.dumps(edit.param_json("reply_markup"))  # shown once: the button goes
    # Someone else's press (or a job never delivered) changes nothing.
    press(translating, next(ids), "drawn", job.job_id)
    assert len(telegram.calls("editMessageCaption")) == 1
