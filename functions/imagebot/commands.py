"""The command menu Telegram shows, per language, registered with setMyCommands at deploy."""

from __future__ import annotations

from imagebot import texts
from imagebot.telegram import BotApi

MENU = ("start", "help", "ghibli", "realistic", "pixel", "style", "limits", "history", "enhance", "lang")


def menu(language: str) -> list[dict[str, str]]:
    return [{"command": name, "description": texts.render(language, f"cmd_{name}")} for name in MENU]


def register(bot: BotApi) -> None:
    """The default menu in English, and one per catalogue language for users of that language."""
    bot.call("setMyCommands", {"commands": menu(texts.DEFAULT_LANGUAGE)})
    for language in texts.CATALOGUE:
        bot.call("setMyCommands", {"commands": menu(language), "language_code": language})
