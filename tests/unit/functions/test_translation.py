from __future__ import annotations

import pytest
from imagebot.config import Settings
from imagebot.core.validation import PromptRejected
from imagebot.edges.translation import (
    Answer,
    Rating,
    TranslationTimeout,
    Translator,
    cache_key,
    detect_language,
    instruction,
    judged_unsafe,
    needs_model,
    parse_answer,
)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("рыжая лиса в снегу", "ru"),
        ("a fox, в снегу", "ru"),  # any Cyrillic
        ("a fox in the snow, 4k", "en"),
        ("un café à Paris", None),  # accents: the model decides
        ("東京の夜", None),
        ("🦊 123", None),  # no letters at all
    ],
)
def test_language_detection(text: str, language: str | None) -> None:
    assert detect_language(text) == language
    assert needs_model(text) is (language != "en")


def test_the_instruction_carries_the_prompt_on_its_own_line() -> None:
    assert instruction("рыжая лиса").endswith("\n\nPrompt: рыжая лиса")


@pytest.mark.parametrize(
    ("answer", "english"),
    [
        ("a red fox in the snow", "a red fox in the snow"),
        ('  "a red fox\nin the snow"  ', "a red fox in the snow"),
        ("English: «a red fox»", "a red fox"),
        ("", None),
        ("   ", None),
        ("word " * 200, None),  # chatter, not a translation
    ],
)
def test_reading_the_models_answer(answer: str, english: str | None) -> None:
    assert parse_answer(answer, "рыжая лиса в снегу") == english


def test_the_cache_key_depends_on_prompt_and_model() -> None:
    assert cache_key("кот", "gemini-2.5-flash") == cache_key("кот", "gemini-2.5-flash")
    assert (
        len(
            {
                cache_key("кот", "gemini-2.5-flash"),
                cache_key("кот", "gemini-2.5-pro"),
                cache_key("кошка", "gemini-2.5-flash"),
            }
        )
        == 3
    )


class Recorder:
    def __init__(self, outcome: Answer | Exception) -> None:
        self.outcome = outcome
        self.asked: list[str] = []
        self.cache: dict[str, str] = {}
        self.counts: list[dict[str, int]] = []

    def generate(self, text: str) -> Answer:
        self.asked.append(text)
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome

    def translator(self) -> Translator:
        return Translator(
            self.generate,
            model="m",
            cached=self.cache.get,
            remember=self.cache.__setitem__,
            count=self.counts.append,
        )


def test_a_translation_is_counted_and_cached() -> None:
    recorder = Recorder(Answer("a red fox", input_tokens=30, output_tokens=4))

    assert recorder.translator().model_prompt("рыжая лиса") == "a red fox"
    assert recorder.cache == {cache_key("рыжая лиса", "m"): "a red fox"}
    (counts,) = recorder.counts
    assert counts["calls"] == 1 and counts["input_tokens"] == 30 and counts["output_tokens"] == 4
    assert counts["input_chars"] == len(instruction("рыжая лиса")) and counts["output_chars"] == len(
        "a red fox"
    )


def test_english_is_never_sent_and_a_cached_prompt_not_again() -> None:
    recorder = Recorder(Answer("unused"))
    recorder.cache[cache_key("кот", "m")] = "cat"
    translator = recorder.translator()

    assert translator.model_prompt("a fox") == "a fox"
    assert translator.model_prompt("кот") == "cat"
    assert recorder.asked == [] and recorder.counts == []


@pytest.mark.parametrize(
    "failure", [TranslationTimeout("read timed out"), RuntimeError("503 from Vertex AI"), Answer("")]
)
def test_any_failure_draws_the_original_and_caches_nothing(failure: Answer | Exception) -> None:
    recorder = Recorder(failure)

    assert recorder.translator().model_prompt("рыжая лиса") == "рыжая лиса"
    assert recorder.cache == {}
    assert [c["calls"] for c in recorder.counts] == [1]  # a failed call may still be billed


SEXUAL, DANGEROUS, HATE = (
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
    "HARM_CATEGORY_HATE_SPEECH",
)


@pytest.mark.parametrize(
    ("block_reason", "finish_reason", "ratings", "unsafe"),
    [
        (None, "STOP", [Rating(SEXUAL, "NEGLIGIBLE"), Rating(DANGEROUS, "LOW")], False),
        ("PROHIBITED_CONTENT", None, [], True),  # the prompt itself blocked: no candidate
        ("SAFETY", None, [], True),
        ("OTHER", None, [], False),  # blocked, but not for safety
        (None, "SAFETY", [Rating(SEXUAL, "MEDIUM", blocked=True)], True),
        (None, "PROHIBITED_CONTENT", [], True),
        (None, "STOP", [Rating(SEXUAL, "HIGH")], True),  # answered, but rated HIGH
        (None, "STOP", [Rating(DANGEROUS, "HIGH")], True),
        (None, "STOP", [Rating(DANGEROUS, "MEDIUM", blocked=True)], True),
        (None, "STOP", [Rating(SEXUAL, "MEDIUM")], False),
        (None, "STOP", [Rating(HATE, "HIGH")], False),  # not a category the bot refuses
        (None, "MAX_TOKENS", [], False),
    ],
)
def test_the_models_safety_verdict(
    block_reason: str | None, finish_reason: str | None, ratings: list[Rating], unsafe: bool
) -> None:
    assert judged_unsafe(block_reason, finish_reason, ratings) is unsafe


def test_a_prompt_the_model_judges_unsafe_is_refused_as_blocked_and_not_cached() -> None:
    recorder = Recorder(Answer("", input_tokens=20, unsafe=True))

    with pytest.raises(PromptRejected) as raised:
        recorder.translator().model_prompt("голая лиса")
    assert raised.value.reason == "blocked"
    assert recorder.cache == {}
    assert [(c["calls"], c["refusals"]) for c in recorder.counts] == [(1, 1)]


def test_translation_settings() -> None:
    base = {
        "GOOGLE_CLOUD_PROJECT": "p",
        "TELEGRAM_BOT_TOKEN": "t",
        "TELEGRAM_WEBHOOK_SECRET": "s",
        "IMAGES_BUCKET": "b",
    }
    off = Settings.from_env(base)
    on = Settings.from_env(
        {
            **base,
            "TRANSLATE_MODEL": "gemini-2.5-flash",
            "VERTEX_REGION": "europe-west4",
            "VERTEX_API_ENDPOINT": "http://127.0.0.1:9",
            "TRANSLATE_TIMEOUT_SECONDS": "2.5",
        }
    )

    assert (
        off.translate_model,
        off.vertex_region,
        off.vertex_api_endpoint,
        off.translate_timeout_seconds,
    ) == ("", "us-central1", "", 3.0)
    assert (on.translate_model, on.vertex_region, on.vertex_api_endpoint, on.translate_timeout_seconds) == (
        "gemini-2.5-flash",
        "europe-west4",
        "http://127.0.0.1:9",
        2.5,
    )


def test_enhancement_asks_for_the_styles_look_and_is_cached_apart() -> None:
    asked = instruction("a fox", enhance=True, style="pixel")

    assert asked.startswith("Expand") and "16-bit pixel art" in asked and asked.endswith("\n\nPrompt: a fox")
    assert needs_model("a fox", enhance=True) and not needs_model("a fox")
    keys = {
        cache_key("a fox", "m"),
        cache_key("a fox", "m", True, "pixel"),
        cache_key("a fox", "m", True, "ghibli"),
    }
    assert len(keys) == 3
    long = "a fox, " + "highly detailed, " * 10
    assert parse_answer(long, "a fox", enhance=True) == long.strip()
    assert parse_answer(long, "a fox") is None  # as a translation it would be chatter
