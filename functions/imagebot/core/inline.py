"""Inline mode's answers: what `@bot <prompt>` shows, and what a chosen result means. Pure.

An answer holds the user's own pictures that match the words (from /history and the prompt
cache, by Telegram file id: nothing is drawn or uploaded to show them) and one "draw" result
per style. Choosing a draw result places its placeholder text in the chat; its keyboard is what
makes Telegram hand the bot the message's id, so the finished picture can replace it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from imagebot.core import keyboards, texts
from imagebot.core.styles import label
from imagebot.core.validation import PromptRejected, Request, validate_request
from imagebot.core.vocabulary import STYLES

DRAW_PREFIX = "draw:"
HISTORY_SHOWN = 10  # users/<id>.history holds at most this many (edges/store.HISTORY_SIZE)
# Telegram caches an answer per query for cache_time seconds (300 by default), across users
# unless is_personal: each answer here is the user's own pictures, and a new picture should
# show at once.
CACHE_SECONDS = 0


@dataclass(frozen=True)
class Picture:
    """A picture Telegram already holds, shown by its file id (InlineQueryResultCachedPhoto)."""

    result_id: str  # unique within the answer, at most 64 bytes
    file_id: str
    style: str
    prompt: str


def drawable(text: str, min_chars: int, max_chars: int) -> Request | None:
    """The request, when the bot would draw these words (a chat message's checks), else None."""
    try:
        return validate_request(text, min_chars, max_chars)
    except PromptRejected:
        return None


def draw_result_id(style: str) -> str:
    return f"{DRAW_PREFIX}{style}"


def style_to_draw(result_id: str) -> str | None:
    """The style of a chosen "draw" result, or None for a picture shown from history."""
    style = result_id.removeprefix(DRAW_PREFIX)
    return style if result_id.startswith(DRAW_PREFIX) and style in STYLES else None


def matches(prompt: str, query: str) -> bool:
    """Every word of the query is in the prompt (case-insensitive); an empty query matches all."""
    folded = prompt.casefold()
    return all(part in folded for part in query.casefold().split())


def history_pictures(history: Iterable[Mapping[str, Any]], query: str) -> list[Picture]:
    """The user's pictures (newest first, as users/<id>.history keeps them) whose prompt matches."""
    found: list[Picture] = []
    for entry in history:
        prompt, file_id, style = entry.get("prompt"), entry.get("file_id"), entry.get("style")
        if not (isinstance(prompt, str) and isinstance(file_id, str) and isinstance(style, str)):
            continue
        if matches(prompt, query):
            found.append(Picture(f"h:{entry.get('job_id') or len(found)}"[:64], file_id, style, prompt))
    return found[:HISTORY_SHOWN]


def answer(query_id: str, prompt: str | None, language: str, pictures: Iterable[Picture]) -> dict[str, Any]:
    """The answerInlineQuery call (made as the webhook's reply): the pictures, each file once,
    then a draw result per style when `prompt` is one the bot would draw (None: it is not)."""
    results: list[dict[str, Any]] = []
    seen: set[str] = set()
    for picture in pictures:
        if picture.file_id in seen:
            continue
        seen.add(picture.file_id)
        results.append(
            {
                "type": "photo",
                "id": picture.result_id,
                "photo_file_id": picture.file_id,
                "title": texts.render(
                    language, "inline_history_title", style=label(picture.style), prompt=picture.prompt
                ),
                "caption": texts.render(
                    language,
                    "history_caption",
                    style=label(picture.style),
                    prompt=texts.shorten(picture.prompt, 700),
                ),
                "parse_mode": "HTML",
            }
        )
    if prompt:
        results += [draw_result(style, prompt, language) for style in STYLES]
    return {
        "method": "answerInlineQuery",
        "inline_query_id": query_id,
        "results": results,
        "cache_time": CACHE_SECONDS,
        "is_personal": True,
    }


def draw_result(style: str, prompt: str, language: str) -> dict[str, Any]:
    return {
        "type": "article",
        "id": draw_result_id(style),
        "title": texts.render(language, "inline_draw_title", style=label(style)),
        "description": texts.shorten(prompt, 200),
        "input_message_content": {
            "message_text": placeholder_text(prompt, style, language),
            "parse_mode": "HTML",
        },
        "reply_markup": keyboards.inline_placeholder(prompt, language),
    }


def placeholder_text(prompt: str, style: str, language: str) -> str:
    return texts.render(language, "inline_placeholder", prompt=texts.shorten(prompt, 300), style=label(style))
