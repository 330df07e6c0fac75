"""validate_prompt refuses what the blocklist (and, where translation is on, Gemini) refuses,
with the same answer; everything else becomes a job. In-memory edges."""

from __future__ import annotations

from dataclasses import replace

import pytest
from imagebot.core import texts
from imagebot.core.jobs import Job, State
from imagebot.core.updates import Button, ChosenInline, Photo, Prompt, encode_event
from imagebot.edges.translation import Answer, Translator
from imagebot.flows import validate_prompt

from tests.support import photos
from tests.support.disguised_prompts import DISGUISED, INNOCENT
from tests.support.events import pubsub_event_data
from tests.support.fakes import FakeServices
from tests.support.jobs import job_doc

BLOCKED_ANSWER = texts.render("en", "rejected_blocked")


def send(rt: FakeServices, text: str, update_id: int = 801) -> Job:
    rt.users.update_user(7, default_style="pixel")
    prompt = Prompt(update_id=update_id, chat_id=7, user_id=7, message_id=3, text=text, language_code="en")
    validate_prompt.handle_message(pubsub_event_data(encode_event(prompt)), rt)
    job = rt.jobs.get_job(f"u{update_id}")
    assert job is not None
    return job


@pytest.mark.parametrize(("disguise", "prompt"), DISGUISED, ids=[f"{d}: {p!a}" for d, p in DISGUISED])
def test_a_disguised_prompt_is_refused_and_the_user_told(disguise: str, prompt: str) -> None:
    rt = FakeServices()
    job = send(rt, prompt)
    assert (job.state, job.reason) == (State.REJECTED, "blocked"), disguise
    assert rt.bot.texts() == [BLOCKED_ANSWER]
    assert rt.publisher.published == []


@pytest.mark.parametrize("prompt", INNOCENT, ids=ascii)
def test_an_innocent_prompt_becomes_a_validated_job(prompt: str) -> None:
    rt = FakeServices()
    job = send(rt, prompt)
    assert (job.state, job.prompt) == (State.VALIDATED, prompt)
    assert rt.publisher.on("validated") == [b"u801"]


def judging(asked: list[str]) -> FakeServices:
    """Translation on, with a model that judges every prompt it reads unsafe."""

    def generate(text: str) -> Answer:
        asked.append(text)
        return Answer("", unsafe=True)

    translator = Translator(
        generate, model="m", cached=lambda key: None, remember=lambda k, v: None, count=len
    )
    return FakeServices(translator=translator)


def test_a_prompt_the_translation_model_judges_unsafe_is_refused_with_the_blocklists_answer() -> None:
    asked: list[str] = []
    rt = judging(asked)
    job = send(rt, "голая лиса")  # passes the blocklist; the model reads it (Russian)
    assert len(asked) == 1
    assert (job.state, job.reason) == (State.REJECTED, "blocked")
    assert rt.bot.texts() == [BLOCKED_ANSWER] and rt.publisher.published == []


def test_an_english_prompt_enhanced_once_its_style_is_chosen_is_refused_then() -> None:
    asked: list[str] = []
    rt = judging(asked)
    rt.users.update_user(7, enhance=True)
    prompt = Prompt(update_id=802, chat_id=7, user_id=7, message_id=3, text="a fox", language_code="en")
    validate_prompt.handle_message(pubsub_event_data(encode_event(prompt)), rt)
    assert rt.jobs.get_job("u802").state == State.AWAITING_STYLE and asked == []  # English: not read yet

    press = Button(803, 7, 7, 4, "cb", "style", ("pixel", "u802"))
    validate_prompt.handle_message(pubsub_event_data(encode_event(press)), rt)

    job = rt.jobs.get_job("u802")
    assert (job.state, job.reason) == (State.REJECTED, "blocked")
    assert rt.bot.texts()[-1] == BLOCKED_ANSWER and rt.publisher.published == []


def test_another_style_of_an_enhanced_picture_is_refused_when_the_model_judges_it_unsafe() -> None:
    asked: list[str] = []
    rt = judging(asked)
    rt.jobs.docs["u9"] = job_doc("u9", 7, State.DELIVERED, enhance=True, model_prompt="a fox, detailed")
    validate_prompt.handle_message(
        pubsub_event_data(encode_event(Button(804, 7, 7, 4, "cb", "other", ("pixel", "u9")))), rt
    )
    job = rt.jobs.get_job("u804")
    assert (job.state, job.reason) == (State.REJECTED, "blocked")
    assert rt.bot.texts() == [BLOCKED_ANSWER] and rt.publisher.published == []


def test_an_inline_prompt_the_model_judges_unsafe_is_refused_on_the_placed_message() -> None:
    asked: list[str] = []
    rt = judging(asked)
    chosen = ChosenInline(805, 7, "draw:pixel", "голая лиса", inline_message_id="IM5", language_code="en")
    validate_prompt.handle_message(pubsub_event_data(encode_event(chosen)), rt)
    job = rt.jobs.get_job("u805")
    assert job is not None and (job.state, job.reason) == (State.REJECTED, "blocked") and len(asked) == 1
    [told] = rt.bot.calls
    assert (told.method, told.params["inline_message_id"], told.params["text"]) == (
        "editMessageText",
        "IM5",
        BLOCKED_ANSWER,
    )
    assert rt.publisher.published == []


def test_a_photos_caption_the_model_judges_unsafe_is_refused_and_the_photo_not_stored() -> None:
    asked: list[str] = []
    rt = judging(asked)
    rt.users.update_user(7, default_style="pixel")
    data = photos.jpeg()
    photo = Photo(update_id=806, chat_id=7, user_id=7, message_id=3, file_id=rt.bot.files.add(data))
    photo = replace(photo, caption="голая лиса", language_code="en")
    validate_prompt.handle_message(pubsub_event_data(encode_event(photo)), rt)
    job = rt.jobs.get_job("u806")
    assert len(asked) == 1 and (job.state, job.reason) == (State.REJECTED, "blocked")
    assert rt.bot.texts() == [BLOCKED_ANSWER] and rt.publisher.published == []
    assert rt.inputs.objects == {} and job.input_image is None
