"""What a user sets and asks about: default style and aspect, language, limits, history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from imagebot.chat.creation import grid_setting
from imagebot.core import keyboards, quota, texts
from imagebot.core.answer_to import AnswerTo
from imagebot.core.ops import quota_in_mode
from imagebot.core.styles import label
from imagebot.core.updates import Button, Command
from imagebot.edges.telegram import TelegramError
from imagebot.ports import Services

HISTORY_SHOWN = 5


def _style_menu(rt: Services, user_id: int, language: str) -> tuple[str, dict[str, Any]]:
    user = rt.users.get_user(user_id)
    style, aspect = user.get("default_style"), user.get("aspect", "square")
    candidates = grid_setting(user)
    text = texts.render(
        language,
        "style_menu",
        style=label(style) if style else texts.render(language, "no_style"),
        aspect=texts.render(language, f"aspect_{aspect}"),
    ) + texts.render(language, "style_menu_count", count=texts.render(language, f"count_{candidates}"))
    return text, keyboards.settings_menu(style, aspect, language, candidates)


def show_style_menu(command: Command, rt: Services) -> None:
    language = rt.users.language_of(command.user_id, command.language_code)
    text, menu = _style_menu(rt, command.user_id, language)
    rt.bot.send_message(AnswerTo.of_event(command), text, reply_markup=menu)


def set_default_style(button: Button, rt: Services) -> None:
    rt.users.update_user(button.user_id, default_style=button.args[0])
    _refresh_menu(button, rt)


def set_aspect(button: Button, rt: Services) -> None:
    rt.users.update_user(button.user_id, aspect=button.args[0])
    _refresh_menu(button, rt)


def set_candidates(button: Button, rt: Services) -> None:
    """/style: one picture or a 2x2 grid at a time, for the prompts that follow."""
    rt.users.update_user(button.user_id, candidates=int(button.args[0]))
    _refresh_menu(button, rt)


def _refresh_menu(button: Button, rt: Services) -> None:
    """The pressed menu shows the new choice ticked (the /start keyboard becomes the menu)."""
    language = rt.users.language_of(button.user_id, button.language_code)
    text, menu = _style_menu(rt, button.user_id, language)
    _edit_quietly(rt, button.chat_id, button.message_id, text, menu)


def show_language_menu(command: Command, rt: Services) -> None:
    language = rt.users.language_of(command.user_id, command.language_code)
    rt.bot.send_message(
        AnswerTo.of_event(command),
        texts.render(language, "lang_menu"),
        reply_markup=keyboards.language_menu(language),
    )


def set_language(button: Button, rt: Services) -> None:
    language = button.args[0]
    rt.users.update_user(button.user_id, language=language)
    _edit_quietly(
        rt,
        button.chat_id,
        button.message_id,
        texts.render(language, "lang_menu"),
        keyboards.language_menu(language),
    )


def _edit_quietly(rt: Services, chat_id: int, message_id: int, text: str, menu: dict[str, Any]) -> None:
    try:
        rt.bot.edit_message_text(chat_id, message_id, text, reply_markup=menu)
    except TelegramError as error:
        if error.transient or error.user_unreachable:
            raise
        # "message is not modified" after a second press on the same choice: nothing to show.


def toggle_enhance(command: Command, rt: Services) -> None:
    """/enhance: short prompts expanded into detailed ones by the translation model. Off
    where translation is off (no model configured): nothing to switch on."""
    language = rt.users.language_of(command.user_id, command.language_code)
    if rt.translator is None:
        rt.bot.send_message(AnswerTo.of_event(command), texts.render(language, "enhance_unavailable"))
        return
    enhance = not rt.users.get_user(command.user_id).get("enhance", False)
    rt.users.update_user(command.user_id, enhance=enhance)
    rt.bot.send_message(
        AnswerTo.of_event(command), texts.render(language, "enhance_on" if enhance else "enhance_off")
    )


def show_limits(command: Command, rt: Services) -> None:
    language = rt.users.language_of(command.user_id, command.language_code)
    policy = quota_in_mode(rt.quota_policy, rt.config.get_ops().mode)
    now = rt.now()
    saved = rt.users.get_user(command.user_id).get("quota") or {}
    used = saved.get("used_today", 0) if saved.get("day") == now.date().isoformat() else 0
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    seconds = int((midnight - now).total_seconds())
    text = texts.render(
        language,
        "limits",
        used=used,
        limit=policy.daily_limit,
        left=max(0, policy.daily_limit - used),
        hours=seconds // 3600,
        minutes=seconds % 3600 // 60,
    ) + texts.render(language, "limits_more", grid_cost=quota.GRID_COST, set_cost=quota.SET_COST)
    text += texts.render(language, "limits_credits", held=rt.payments.credits_of(command.user_id).held)
    rt.bot.send_message(AnswerTo.of_event(command), text)


def resend_history(command: Command, rt: Services) -> None:
    """The latest pictures again, by their Telegram file ids: nothing is drawn or uploaded."""
    user = rt.users.get_user(command.user_id)
    language = texts.user_language(user.get("language"), command.language_code)
    history = user.get("history", [])[:HISTORY_SHOWN]
    if not history:
        rt.bot.send_message(AnswerTo.of_event(command), texts.render(language, "history_empty"))
        return
    for entry in reversed(history):  # oldest first, so the newest ends up at the bottom
        negative = entry.get("negative_prompt") or ""
        caption = texts.render(
            language,
            "history_caption_negative" if negative else "history_caption",
            style=label(entry["style"]),
            prompt=texts.shorten(entry["prompt"], 700),
            negative=texts.shorten(negative, 200),
        )
        rt.bot.send_photo(AnswerTo.of_event(command), entry["file_id"], caption=caption)
