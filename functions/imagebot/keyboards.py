"""Inline keyboards. Callback data stays within Telegram's 64 bytes: it never carries a prompt."""

from __future__ import annotations

from typing import Any

from imagebot.contract import STYLES
from imagebot.styles import label

_STYLE_PREFIX = "style"


def style_choice_data(style: str, job_id: str) -> str:
    data = f"{_STYLE_PREFIX}:{style}:{job_id}"
    assert len(data.encode()) <= 64, "Telegram limits callback data to 64 bytes"
    return data


def parse_style_choice(data: str) -> tuple[str, str] | None:
    """(style, job_id) from a style button's callback data, or None for anything else."""
    prefix, _, rest = data.partition(":")
    style, _, job_id = rest.partition(":")
    if prefix != _STYLE_PREFIX or style not in STYLES or not job_id:
        return None
    return style, job_id


def style_keyboard(job_id: str) -> dict[str, Any]:
    return {
        "inline_keyboard": [
            [{"text": label(style), "callback_data": style_choice_data(style, job_id)} for style in STYLES]
        ]
    }
