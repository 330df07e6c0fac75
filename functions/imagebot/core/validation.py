"""Prompt normalisation and validation: pure functions, no I/O."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from imagebot.core.blocklist import is_blocked

_WHITESPACE = re.compile(r"\s+")
# "--no blurry, text" on its own last line, or at the end of a one-line prompt.
_NEGATIVE = re.compile(r"(?:^|\n|\s)--no\s+(?P<negative>[^\n]*)\s*$", re.IGNORECASE)
NEGATIVE_MAX_CHARS = 200
# What normalise_prompt keeps but no one sees: the zero-width joiner (kept for emoji
# sequences), the Hangul fillers and the blank Braille pattern, which draw nothing. A prompt of
# only these is empty, not short.
_INVISIBLE = frozenset("\u200d\u115f\u1160\u3164\uffa0\u2800")


@dataclass(frozen=True)
class PromptRejected(Exception):
    """Why a prompt cannot be drawn; `reason` keys the user-facing text."""

    reason: str  # "empty" | "too_short" | "too_long" | "blocked"
    limit: int = 0


@dataclass(frozen=True)
class Request:
    prompt: str
    negative_prompt: str = ""


def normalise_prompt(text: str) -> str:
    """NFC, control and format characters out, whitespace collapsed to single spaces."""
    text = unicodedata.normalize("NFC", text)
    # Newlines and tabs become spaces; other control (Cc) and format (Cf) characters go, which
    # removes bidi overrides and zero-width tricks. ZWJ stays: emoji sequences need it.
    kept = []
    for char in text:
        if char in "\n\r\t":
            kept.append(" ")
        elif unicodedata.category(char) not in ("Cc", "Cf") or char == "\u200d":
            kept.append(char)
    return _WHITESPACE.sub(" ", "".join(kept)).strip()


def split_negative(text: str) -> tuple[str, str]:
    """(prompt, what to leave out) from a message with an optional `--no …` part."""
    match = _NEGATIVE.search(text)
    if not match:
        return text, ""
    return text[: match.start()], match.group("negative")


def validate_prompt(text: str, min_chars: int, max_chars: int) -> str:
    """The normalised prompt, or PromptRejected with the reason."""
    prompt = normalise_prompt(text)
    if not any(char not in _INVISIBLE and not char.isspace() for char in prompt):
        raise PromptRejected("empty")
    if sum(char not in _INVISIBLE for char in prompt) < min_chars:  # what the user sees counts
        raise PromptRejected("too_short", min_chars)
    if len(prompt) > max_chars:
        raise PromptRejected("too_long", max_chars)
    if is_blocked(prompt):
        raise PromptRejected("blocked")
    return prompt


def validate_request(text: str, min_chars: int, max_chars: int, *, words_optional: bool = False) -> Request:
    """A whole message: the prompt and its optional negative part, both checked. With
    `words_optional` (a photo's caption, which may say nothing) no words is an empty prompt."""
    raw_prompt, raw_negative = split_negative(text)
    if words_optional and not normalise_prompt(raw_prompt):
        prompt = ""
    else:
        prompt = validate_prompt(raw_prompt, min_chars, max_chars)
    negative = normalise_prompt(raw_negative)
    if len(negative) > NEGATIVE_MAX_CHARS:
        raise PromptRejected("too_long", NEGATIVE_MAX_CHARS)
    return Request(prompt, negative)  # a blocked word in what to leave out is fine
