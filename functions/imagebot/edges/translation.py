"""Prompts in the user's language, drawn from English: the diffusion models read English far
better than anything else, and the first audience writes Russian.

The user keeps seeing their own words (the job's `prompt`, in captions and questions); the GPU
gets `model_prompt`. Pure parts first (what needs translating, what the model is asked, how
its answer is read, the cache key), then the edge: Gemini on Vertex AI, bounded in time
(TRANSLATE_TIMEOUT_SECONDS), cached in Firestore (`translations/<sha>`, with a TTL) and
counted (`stats/translation`). Any failure draws the original prompt: a translation is an
improvement, never a reason to lose a picture.

The model also judges the prompt it reads (`judged_unsafe`): a prompt Gemini blocks, or rates
HIGH for sexual or dangerous content, is refused as the blocklist refuses one (PromptRejected
"blocked", the same answer to the user), instead of being drawn untranslated.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from imagebot.core.validation import PromptRejected
from imagebot.logs import fields

log = logging.getLogger(__name__)

_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN_LETTER = re.compile(r"[A-Za-z]")
_NON_ASCII_LETTER = re.compile(r"[^\W\d_A-Za-z]")
_PREFIX = re.compile(r"^(?:english|translation|prompt)\s*:\s*", re.IGNORECASE)
# An answer this much longer than the question is the model chatting, not translating.
MAX_GROWTH = 4
MAX_ANSWER_CHARS = 1000


# --- pure --------------------------------------------------------------------------------------


def detect_language(text: str) -> str | None:
    """ "ru" for any Cyrillic, "en" for Latin letters only, None when unsure (ask the model).

    A heuristic that is right for the audience (Russian or English) and costs nothing: only
    prompts it cannot place reach the model, which answers them in English either way."""
    if _CYRILLIC.search(text):
        return "ru"
    if _NON_ASCII_LETTER.search(text):
        return None  # accents, other scripts: the model decides
    return "en" if _LATIN_LETTER.search(text) else None


def needs_model(text: str, enhance: bool = False) -> bool:
    return enhance or detect_language(text) != "en"


# What an enhanced prompt aims at, per style (the styles' models are SD 1.5 fine-tunes).
STYLE_HINTS = {
    "ghibli": "a hand-painted Studio Ghibli anime film still",
    "realistic": "a realistic photograph",
    "pixel": "16-bit pixel art",
}
ENHANCED_MAX_WORDS = 60  # CLIP reads 77 tokens; more words would be cut off unseen


def instruction(prompt: str, enhance: bool = False, style: str | None = None) -> str:
    """What the model is asked, ending with the prompt on its own line, so that its answer
    is the prompt and nothing else: a translation, or (enhance) a richer description."""
    if enhance:
        target = STYLE_HINTS.get(style or "", "an illustration")
        task = (
            f"Expand this text-to-image prompt into a detailed English prompt for {target}: "
            "subject, setting, composition, lighting, colours, mood. Keep everything the user "
            f"asked for and contradict nothing. At most {ENHANCED_MAX_WORDS} words, comma-separated phrases."
        )
    else:
        task = (
            "Translate this text-to-image prompt into English. Keep every detail, name and number; "
            "add nothing. If it is already English, return it unchanged."
        )
    answer = "Answer with the English prompt only, on one line, without quotes or comments."
    return f"{task} {answer}\n\nPrompt: {prompt}"


def parse_answer(answer: str, original: str, enhance: bool = False) -> str | None:
    """The English prompt from the model's answer, or None when the answer is no prompt."""
    text = " ".join(answer.split())  # one line, however the model wrapped it
    text = _PREFIX.sub("", text).strip().strip("\"'«»“”").strip()
    # A translation this much longer than the question is the model chatting; an enhanced
    # prompt is meant to be longer, within its word budget.
    limit = MAX_ANSWER_CHARS if enhance else min(MAX_ANSWER_CHARS, MAX_GROWTH * max(len(original), 20))
    if not text or len(text) > limit:
        return None
    return text


def cache_key(prompt: str, model: str, enhance: bool = False, style: str | None = None) -> str:
    """One cache entry per prompt, model and task: another model may translate better, and an
    enhanced prompt differs per style."""
    task = f"enhance:{style or ''}" if enhance else "translate"
    return hashlib.sha256(f"{model}\n{task}\n{prompt}".encode()).hexdigest()


# Gemini's safety verdicts that refuse a prompt. Blocked (the prompt, or the answer for
# safety): the model would not translate it, and drawing the raw prompt instead would walk
# around its judgement. Rated HIGH, blocked or not (Vertex AI's default thresholds block
# little): only the categories the bot refuses, sexual content and violence ("dangerous
# content" is Gemini's nearest to violence; harassment and hate speech are left to the model).
SAFETY_BLOCKS = frozenset({"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST"})
REFUSED_CATEGORIES = frozenset({"HARM_CATEGORY_SEXUALLY_EXPLICIT", "HARM_CATEGORY_DANGEROUS_CONTENT"})


@dataclass(frozen=True)
class Rating:
    """One of Gemini's safety ratings, in its REST names."""

    category: str
    probability: str
    blocked: bool = False


def judged_unsafe(block_reason: str | None, finish_reason: str | None, ratings: Iterable[Rating]) -> bool:
    """Whether the model's verdict on a prompt refuses it (promptFeedback.blockReason, the
    candidate's finishReason, and the safety ratings of both)."""
    if block_reason in SAFETY_BLOCKS or finish_reason in SAFETY_BLOCKS:
        return True
    return any(
        rating.category in REFUSED_CATEGORIES and (rating.blocked or rating.probability == "HIGH")
        for rating in ratings
    )


@dataclass(frozen=True)
class Answer:
    """The model's text, its safety verdict on the prompt, and what the call cost, as Vertex
    AI bills it."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    unsafe: bool = False


# --- the edge --------------------------------------------------------------------------------

Generate = Callable[[str], Answer]


class TranslationTimeout(Exception):
    """The model did not answer within the deadline."""


def vertex_generate(
    project: str, region: str, model: str, timeout: float, api_endpoint: str = ""
) -> Generate:
    """Gemini on Vertex AI through Google's Gen AI SDK (`google-genai`, `vertexai=True`).

    Not google-cloud-aiplatform's `vertexai.generative_models`: Google deprecated that module
    for Gemini in favour of this SDK, which also takes a real per-request deadline.
    `api_endpoint` points it elsewhere (a local stand-in speaking the Vertex AI REST protocol,
    in tests and the local stack), with a placeholder token there instead of Google's."""
    import httpx
    from google import genai  # imported here: only instances that translate pay for it
    from google.genai import types

    credentials = None
    if api_endpoint:
        from google.oauth2.credentials import Credentials

        credentials = Credentials(token="local-stand-in")  # never refreshed, never sent to Google
    client = genai.Client(
        vertexai=True,
        project=project,
        location=region,
        credentials=credentials,
        http_options=types.HttpOptions(base_url=api_endpoint or None, timeout=round(timeout * 1000)),
    )
    config = types.GenerateContentConfig(temperature=0.0, max_output_tokens=512)

    def generate(text: str) -> Answer:
        try:
            response = client.models.generate_content(model=model, contents=text, config=config)
        except httpx.TimeoutException as error:
            raise TranslationTimeout(str(error)) from error
        usage = response.usage_metadata
        feedback = response.prompt_feedback
        candidate = response.candidates[0] if response.candidates else None
        ratings = [
            *((feedback.safety_ratings or []) if feedback else []),
            *((candidate.safety_ratings or []) if candidate else []),
        ]
        unsafe = judged_unsafe(
            _name(feedback.block_reason) if feedback else None,
            _name(candidate.finish_reason) if candidate else None,
            [Rating(_name(r.category) or "", _name(r.probability) or "", bool(r.blocked)) for r in ratings],
        )
        return Answer(
            "" if unsafe else (response.text or ""),
            (usage.prompt_token_count or 0) if usage else 0,
            (usage.candidates_token_count or 0) if usage else 0,
            unsafe,
        )

    return generate


def _name(value: object) -> str | None:
    """An SDK enum (or an unknown value it kept as text) by its REST name."""
    return None if value is None else str(getattr(value, "value", value))


class Translator:
    """model_prompt(prompt): English for the model, or the prompt itself on any failure."""

    def __init__(
        self,
        generate: Generate,
        *,
        model: str,
        cached: Callable[[str], str | None],
        remember: Callable[[str, str], None],
        count: Callable[[dict[str, int]], None],
    ) -> None:
        self._generate = generate
        self._model = model
        self._cached, self._remember, self._count = cached, remember, count

    def model_prompt(
        self,
        prompt: str,
        job_id: str = "",
        *,
        enhance: bool = False,
        style: str | None = None,
        fallback: str | None = None,
    ) -> str:
        """English for the model; with `enhance`, expanded into a detailed prompt for `style`.
        When the model gives no usable answer: `fallback` (a translation made earlier), else
        the prompt as written. PromptRejected("blocked") when the model judges it unsafe."""
        fallback = prompt if fallback is None else fallback
        if not needs_model(prompt, enhance):
            return prompt
        context = fields(stage="validate", job_id=job_id)
        key = cache_key(prompt, self._model, enhance, style)
        hit = self._cached(key)
        if hit is not None:
            return hit
        question = instruction(prompt, enhance, style)
        try:
            answer = self._generate(question)  # bounded: `generate` carries the deadline
        except TranslationTimeout:
            log.warning(
                "translation timed out; drawing the original prompt", extra={**context, "reason": "timeout"}
            )
            self._count({"calls": 1, "timeouts": 1, "input_chars": len(question)})
            return fallback
        except Exception as error:
            log.warning(
                "translation failed; drawing the original prompt",
                extra={**context, "reason": type(error).__name__, "error": str(error)},
            )
            self._count({"calls": 1, "failures": 1, "input_chars": len(question)})
            return fallback
        self._count(
            {
                "calls": 1,
                "input_chars": len(question),
                "output_chars": len(answer.text),
                "input_tokens": answer.input_tokens,
                "output_tokens": answer.output_tokens,
                **({"refusals": 1} if answer.unsafe else {}),
            }
        )
        if answer.unsafe:  # never cached: a redelivery asks again, and is refused again
            log.info("the translation model judged the prompt unsafe", extra={**context, "reason": "blocked"})
            raise PromptRejected("blocked")
        english = parse_answer(answer.text, prompt, enhance)
        if english is None:
            log.warning(
                "translation unusable; drawing the original prompt", extra={**context, "reason": "answer"}
            )
            return fallback
        self._remember(key, english)
        log.info("prompt enhanced" if enhance else "prompt translated", extra=context)
        return english
