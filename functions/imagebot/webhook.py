"""The Telegram webhook: verify, parse, publish, answer.

It answers only after the publish is confirmed, and in milliseconds: prompts never touch
Firestore here. /start and /help are answered in the webhook response itself (Telegram's
reply-in-response), after one read of the user's chosen language.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imagebot import keyboards, texts
from imagebot.bus import Publisher
from imagebot.config import Settings
from imagebot.logs import fields
from imagebot.styles import label
from imagebot.updates import (
    Button,
    Command,
    Ignored,
    MalformedUpdate,
    NotText,
    Prompt,
    encode_event,
    parse_update,
)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
USER_COMMANDS = frozenset({"style", "limits", "lang", "history", "enhance"})
OPERATOR_COMMANDS = frozenset({"stats", "pause", "resume"})
INLINE_SHORTCUTS = frozenset({"ghibli", "realistic", "pixel"})  # without a prompt: a usage hint
log = logging.getLogger(__name__)
LanguageOf = Callable[[int], str | None]


@dataclass(frozen=True)
class WebhookReply:
    """An HTTP answer; a body with a "method" is a Bot API call Telegram makes for us."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


def secret_matches(given: str | None, expected: str) -> bool:
    """Never true without a configured secret: an empty one would let anyone in."""
    return bool(expected) and given is not None and hmac.compare_digest(given.encode(), expected.encode())


def handle_webhook(
    raw: bytes, secret: str | None, settings: Settings, publisher: Publisher, language_of: LanguageOf
) -> WebhookReply:
    if not secret_matches(secret, settings.webhook_secret):
        log.warning("webhook call with a wrong or missing secret token", extra=fields(stage="webhook"))
        return WebhookReply(401, {"error": "unauthorized"})
    try:
        event = parse_update(json.loads(raw), settings.bot_username)
    except (ValueError, MalformedUpdate) as error:
        log.warning("malformed update", extra=fields(stage="webhook", error=str(error)[:200]))
        return WebhookReply(400, {"error": "malformed update"})

    match event:
        case Ignored():
            log.info(
                "update ignored",
                extra=fields(stage="webhook", update_id=event.update_id, reason=event.reason),
            )
            return WebhookReply(200)
        case NotText():
            text = texts.render(texts.language_for(event.language_code), "text_only")
            return WebhookReply(200, send_message(event.chat_id, text))
        case Command() if not needs_worker(event, settings):
            return WebhookReply(200, command_reply(event, settings, language_of))
        case Prompt() | Command() | Button():
            publisher.publish(
                settings.prompts_topic, encode_event(event), update_id=str(event.update_id), kind=event.kind
            )
            log.info(
                "update published",
                extra=fields(stage="webhook", update_id=event.update_id, reason=event.kind),
            )
            if isinstance(event, Button):
                answer = button_answer(event, texts.language_for(event.language_code))
                return WebhookReply(
                    200,
                    {
                        "method": "answerCallbackQuery",
                        "callback_query_id": event.callback_query_id,
                        "text": answer,
                    },
                )
            return WebhookReply(200)


def needs_worker(command: Command, settings: Settings) -> bool:
    """Commands that read or change state go on to the worker; the rest are answered here."""
    if command.name in OPERATOR_COMMANDS:
        return command.user_id in settings.operator_ids
    return command.name in USER_COMMANDS


def command_reply(command: Command, settings: Settings, language_of: LanguageOf) -> dict[str, Any]:
    language = user_language(command.user_id, command.language_code, language_of)
    if command.name == "start":
        name = command.first_name or texts.render(language, "friend")
        reply = send_message(command.chat_id, texts.render(language, "start", name=name))
        reply["reply_markup"] = {"inline_keyboard": [keyboards.default_styles(None)]}
        return reply
    if command.name == "help":
        text = texts.render(language, "help", min=settings.prompt_min_chars, max=settings.prompt_max_chars)
    elif command.name in INLINE_SHORTCUTS:
        text = texts.render(language, "shortcut_usage", command=command.name)
    else:
        text = texts.render(language, "unknown_command")
    return send_message(command.chat_id, text)


def user_language(user_id: int, language_code: str | None, language_of: LanguageOf) -> str:
    """The language the user chose with /lang, else their Telegram client's."""
    try:
        chosen = language_of(user_id)
    except Exception:  # a slow or failing read must not cost the answer itself
        log.warning("user language lookup failed", exc_info=True)
        chosen = None
    return chosen or texts.language_for(language_code)


def button_answer(button: Button, language: str) -> str:
    """The toast shown at once when a button is pressed."""
    action, args = button.action, button.args
    if action == "style":
        return texts.render(language, "answer_style", style=label(args[0]))
    if action in ("again", "retry"):
        return texts.render(language, "answer_again")
    if action in ("other", "same"):
        return texts.render(language, "answer_restyle", style=label(args[0]))
    if action == "file":
        return texts.render(language, "answer_file")
    if action == "default":
        return texts.render(language, "answer_default", style=label(args[0]))
    if action == "aspect":
        return texts.render(language, "answer_aspect", aspect=texts.render(language, f"aspect_{args[0]}"))
    return texts.render(args[0], "language_name") + " ✓"  # lang: said in the new language


def send_message(chat_id: int, text: str) -> dict[str, Any]:
    return {"method": "sendMessage", "chat_id": chat_id, "text": text, "parse_mode": "HTML"}
