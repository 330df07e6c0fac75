"""Every text the bot sends, per language. No user-facing text lives anywhere else."""

from __future__ import annotations

import html
from typing import Any

DEFAULT_LANGUAGE = "en"

CATALOGUE: dict[str, dict[str, str]] = {
    "en": {
        "friend": "there",
        "start": (
            "Hi, {name}! I draw pictures from your words.\n\n"
            "Send me a prompt, for example <i>a lighthouse on a cliff at sunset</i>, "
            "and pick a style: Ghibli Art, Realistic or Pixel Art."
        ),
        "help": (
            "<b>How it works</b>\n"
            "1. Send a text prompt ({min}–{max} characters).\n"
            "2. Pick a style.\n"
            "3. Wait a few seconds for your picture.\n\n"
            "/start – welcome\n/help – this message"
        ),
        "unknown_command": "I don't know that command. Send me a prompt, or /help.",
        "text_only": "I can only draw from text. Send me a prompt in words.",
        "choose_style": "Which style for “{prompt}”?",
        "style_chosen": "{style} ✓",
        "style_already_chosen": "This prompt is already being drawn.",
        "queued": "⏳ Queued: {style}…",
        "rejected_empty": "Your prompt is empty. Describe what you want to see.",
        "rejected_too_short": "Your prompt is too short: at least {limit} characters, please.",
        "rejected_too_long": "Your prompt is too long: at most {limit} characters, please.",
        "rejected_rate": "You're going a bit fast. Try again in {seconds} s.",
        "rejected_daily": "You've reached today's limit. It refills in {hours} h {minutes} min.",
        "caption": "<b>{style}</b>\n{prompt}",
    },
    "ru": {
        "friend": "друг",
        "start": (
            "Привет, {name}! Я рисую картинки по вашим словам.\n\n"
            "Пришлите описание, например <i>маяк на скале на закате</i>, "
            "и выберите стиль: Ghibli Art, Realistic или Pixel Art."
        ),
        "help": (
            "<b>Как это работает</b>\n"
            "1. Пришлите описание ({min}–{max} символов).\n"
            "2. Выберите стиль.\n"
            "3. Подождите несколько секунд.\n\n"
            "/start – приветствие\n/help – эта справка"
        ),
        "unknown_command": "Такой команды нет. Пришлите описание или /help.",
        "text_only": "Я рисую только по тексту. Опишите картинку словами.",
        "choose_style": "Какой стиль для «{prompt}»?",
        "style_chosen": "{style} ✓",
        "style_already_chosen": "Эта картинка уже рисуется.",
        "queued": "⏳ В очереди: {style}…",
        "rejected_empty": "Описание пустое. Опишите, что хотите увидеть.",
        "rejected_too_short": "Слишком короткое описание: нужно хотя бы {limit} символа.",
        "rejected_too_long": "Слишком длинное описание: не больше {limit} символов.",
        "rejected_rate": "Слишком быстро. Попробуйте снова через {seconds} с.",
        "rejected_daily": "Дневной лимит исчерпан. Он обновится через {hours} ч {minutes} мин.",
        "caption": "<b>{style}</b>\n{prompt}",
    },
}


def language_for(language_code: str | None) -> str:
    """The catalogue language for a Telegram `language_code` such as "ru" or "en-GB"."""
    base = (language_code or "").split("-")[0].lower()
    return base if base in CATALOGUE else DEFAULT_LANGUAGE


def render(language: str, key: str, **values: Any) -> str:
    """A text with its values; strings are HTML-escaped, since every text is sent as HTML."""
    template = CATALOGUE.get(language, CATALOGUE[DEFAULT_LANGUAGE])[key]
    safe = {name: html.escape(v) if isinstance(v, str) else v for name, v in values.items()}
    return template.format(**safe)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
