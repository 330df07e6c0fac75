"""The disguised-prompt corpus at the first checkpoint: the functions' validation step."""

from __future__ import annotations

import pytest
from imagebot.core.validation import PromptRejected, validate_request

from tests.support.disguised_prompts import DISGUISED, INNOCENT


@pytest.mark.parametrize(("disguise", "prompt"), DISGUISED, ids=[f"{d}: {p!a}" for d, p in DISGUISED])
def test_a_disguised_prompt_is_refused_as_blocked(disguise: str, prompt: str) -> None:
    with pytest.raises(PromptRejected) as raised:
        validate_request(prompt, min_chars=2, max_chars=500)
    assert raised.value.reason == "blocked", disguise


@pytest.mark.parametrize("prompt", INNOCENT, ids=ascii)
def test_an_innocent_prompt_is_accepted(prompt: str) -> None:
    assert validate_request(prompt, min_chars=2, max_chars=500).prompt == prompt
