"""Inline keyboards and their callback data. Pure.

Callback data is `action:arg:arg`, within Telegram's 64 bytes: it names jobs, styles and
choices, never a prompt (the prompt stays in the job document).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from imagebot.core import registry, texts
from imagebot.core.styles import label
from imagebot.core.vocabulary import ASPECTS, STYLES


@dataclass(frozen=True)
class Callback:
    action: str
    args: tuple[str, ...]


def encode(action: str, *args: str) -> str:
    data = ":".join((action, *args))
    if parse(data) is None or len(data.encode()) > 64:
        raise ValueError(f"not valid callback data: {data!r}")
    return data


def parse(data: str) -> Callback | None:
    """The callback, or None for data the bot never sends (stale or forged)."""
    action, *args = data.split(":")
    declared = registry.action(action)
    if declared is None or len(args) != len(declared.args):
        return None
    for allowed, value in zip(declared.args, args, strict=True):
        if (allowed is not None and value not in allowed) or (allowed is None and not _is_job_id(value)):
            return None
    return Callback(action, tuple(args))


def _is_job_id(value: str) -> bool:
    return 0 < len(value) <= 40 and value.replace("_", "").replace("-", "").isalnum()


def _button(text: str, action: str, *args: str) -> dict[str, str]:
    return {"text": text, "callback_data": encode(action, *args)}


def style_question(job_id: str) -> dict[str, Any]:
    return {"inline_keyboard": [[_button(label(style), "style", style, job_id) for style in STYLES]]}


def photo_actions(job_id: str, style: str, language: str, *, drawn_as: bool = False) -> dict[str, Any]:
    """Buttons under a photo; `drawn_as` offers the model's English prompt (a translated or
    enhanced job's, until it is shown)."""
    others = [other for other in STYLES if other != style]

    def t(key: str, **values: str) -> str:
        return texts.render(language, key, **values)

    first = [_button(t("button_again"), "again", job_id), _button(t("button_original"), "file", job_id)]
    if drawn_as:
        first.append(_button(t("button_drawn_as"), "drawn", job_id))
    return {
        "inline_keyboard": [
            first,
            [
                _button(t("button_other_style", style=label(other)), "other", other, job_id)
                for other in others
            ],
            [_button(t("button_same_seed", style=label(other)), "same", other, job_id) for other in others],
            more_pictures(job_id, language),
        ]
    }


def default_styles(current: str | None) -> list[dict[str, str]]:
    return [_button(("✓ " if s == current else "") + label(s), "default", s) for s in STYLES]


def settings_menu(style: str | None, aspect: str, language: str, candidates: int = 1) -> dict[str, Any]:
    """Default style, aspect and pictures at a time, the current choices ticked."""
    return {
        "inline_keyboard": [
            default_styles(style),
            [
                _button(_ticked(texts.render(language, f"aspect_{a}"), a == aspect), "aspect", a)
                for a in ASPECTS
            ],
            [
                _button(_ticked(texts.render(language, f"count_{c}"), c == str(candidates)), "count", c)
                for c in registry.COUNTS
            ],
        ]
    }


def _ticked(text: str, on: bool) -> str:
    return f"✓ {text}" if on else text


def language_menu(current: str) -> dict[str, Any]:
    return {
        "inline_keyboard": [
            [
                _button(("✓ " if code == current else "") + texts.render(code, "language_name"), "lang", code)
                for code in registry.LANGUAGES
            ]
        ]
    }


def again(job_id: str, language: str) -> dict[str, Any]:
    """Again alone: the same prompt and style with a new seed (a flagged picture's answer)."""
    return {"inline_keyboard": [[_button(texts.render(language, "button_again"), "again", job_id)]]}


def retry(job_id: str, language: str) -> dict[str, Any]:
    return {"inline_keyboard": [[_button(texts.render(language, "button_retry"), "retry", job_id)]]}


def cancel(job_id: str, language: str) -> dict[str, Any]:
    """Under the status message while the job waits or draws."""
    return {"inline_keyboard": [[_button(texts.render(language, "button_cancel"), "cancel", job_id)]]}


def inline_placeholder(prompt: str, language: str) -> dict[str, Any]:
    """Under a message placed by inline mode. Telegram gives the bot the message's id (to edit
    it when the picture is ready) only when the result has a keyboard; this one reopens inline
    mode in the same chat with the prompt, to draw another. (A callback button would come back
    without a chat: the bot's buttons stay in its own chats.)"""
    button = {
        "text": texts.render(language, "button_inline_change"),
        "switch_inline_query_current_chat": prompt,
    }
    return {"inline_keyboard": [[button]]}


# -- more than one picture (issue 16) ------------------------------------------------------------


def more_pictures(job_id: str, language: str) -> list[dict[str, str]]:
    """Under a photo: four of it (a grid), and all three styles with its seed."""
    return [
        _button(texts.render(language, "button_grid"), "grid", job_id),
        _button(texts.render(language, "button_all_styles"), "all", job_id),
    ]


def grid_actions(job_id: str, language: str, flagged: tuple[int, ...] = ()) -> dict[str, Any]:
    """Under a 2x2 collage: ⬆n (candidate n alone) and 🔀n (four variations of it) for each
    candidate that was not flagged, then a new grid and the collage's file."""
    shown = [n for n in registry.CANDIDATE_NUMBERS if int(n) not in flagged]

    def t(key: str, **values: str) -> str:
        return texts.render(language, key, **values)

    return {
        "inline_keyboard": [
            [_button(t("button_upscale", n=n), "up", n, job_id) for n in shown],
            [_button(t("button_vary", n=n), "vary", n, job_id) for n in shown],
            [_button(t("button_again"), "again", job_id), _button(t("button_original"), "file", job_id)],
        ]
    }


def set_actions(
    delivered: list[tuple[str, str]], closed: list[tuple[str, str, bool]], language: str
) -> dict[str, Any]:
    """After an album of styles (albums carry no buttons): per delivered (job id, style) Again,
    four variants and its file; per closed (job id, style, flagged) one more try: a new seed
    for a flagged picture, the same seed for a failed one."""

    def t(key: str, style: str) -> str:
        return texts.render(language, key, style=label(style))

    rows = [
        [
            _button(t("button_set_again", style), "again", job_id),
            _button(t("button_set_grid", style), "grid", job_id),
            _button(t("button_set_file", style), "file", job_id),
        ]
        for job_id, style in delivered
    ]
    rows += [
        [_button(t("button_set_again", style), "again" if flagged else "retry", job_id)]
        for job_id, style, flagged in closed
    ]
    return {"inline_keyboard": rows}
