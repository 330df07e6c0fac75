"""Prompt normalisation and validation: pure functions, no I/O."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class PromptRejected(Exception):
    """Why a prompt cannot be drawn; `reason` keys the user-facing text."""

    reason: str  # "empty" | "too_short" | "too_long"
    limit: int = 0


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


def validate_prompt(text: str, min_chars: int, max_chars: int) -> str:
    """The normalised prompt, or PromptRejected with the reason."""
    prompt = normalise_prompt(text)
    if not prompt:
        raise PromptRejected("empty")
    if len(prompt) < min_chars:
        raise PromptRejected("too_short", min_chars)
    if len(prompt) > max_chars:
        raise PromptRejected("too_long", max_chars)
    return prompt
