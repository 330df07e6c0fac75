"""validate_prompt refuses what the blocklist (and, where translation is on, Gemini) refuses,
with the same answer; everything else becomes a job. In-memory edges."""

from __future__ import annotations

import pytest
from imagebot.core import texts
from imagebot.core.jobs import State
from imagebot.core.updates import Prompt, encode_event
from imagebot.flows import validate_prompt

from tests.support.disguised_prompts import DISGUISED, INNOCENT
from tests.support.events import pubsub_event_data
from tests.support.fakes import FakeServices

BLOCKED_ANSWER = texts.render("en", "rejected_blocked")


def send(rt: FakeServices, text: str, update_id: int = 801) -> dict:
    rt.users.update_user(7, default_style="pixel")
    prompt = Prompt(update_id=update_id, chat_id=7, user_id=7, message_id=3, text=text, language_code="en")
    validate_prompt.handle_message(pubsub_event_data(encode_event(prompt)), rt)
    return rt.jobs.get_job(f"u{update_id}")


@pytest.mark.parametrize(("disguise", "prompt"), DISGUISED, ids=[f"{d}: {p!a}" for d, p in DISGUISED])
def test_a_disguised_prompt_is_refused_and_the_user_told(disguise: str, prompt: str) -> None:
    rt = FakeServices()
    job = send(rt, prompt)
    assert (job["state"], job["reason"]) == (State.REJECTED, "blocked"), disguise
    assert rt.bot.texts() == [BLOCKED_ANSWER]
    assert rt.publisher.published == []


@pytest.mark.parametrize("prompt", INNOCENT, ids=ascii)
def test_an_innocent_prompt_becomes_a_validated_job(prompt: str) -> None:
    rt = FakeServices()
    job = send(rt, prompt)
    assert (job["state"], job["prompt"]) == (State.VALIDATED, prompt)
    assert rt.publisher.on("validated") == [b"u801"]
