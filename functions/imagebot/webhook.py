"""The Telegram webhook: verify, parse, publish, answer. No Firestore on this path: it must
answer in milliseconds, and only after the publish is confirmed."""

from __future__ import annotations

import hmac
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from imagebot import texts
from imagebot.bus import Publisher
from imagebot.config import Settings
from imagebot.logs import fields
from imagebot.styles import label
from imagebot.updates import (
    Command,
    Ignored,
    MalformedUpdate,
    NotText,
    Prompt,
    StyleChosen,
    encode_event,
    parse_update,
)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookReply:
    """An HTTP answer; a body with a "method" is a Bot API call Telegram makes for us."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


def secret_matches(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def handle_webhook(raw: bytes, secret: str | None, settings: Settings, publisher: Publisher) -> WebhookReply:
    if not secret_matches(secret, settings.webhook_secret):
        log.warning("webhook call with a wrong or missing secret token", extra=fields(stage="webhook"))
        return WebhookReply(401, {"error": "unauthorized"})
    try:
        event = parse_update(json.loads(raw))
    except (ValueError, MalformedUpdate) as error:
        log.warning("malformed update", extra=fields(stage="webhook", error=str(error)[:200]))
        return WebhookReply(400, {"error": "malformed update"})

    match event:
        case Command():
            return WebhookReply(200, command_reply(event, settings))
        case NotText():
            language = texts.language_for(event.language_code)
            return WebhookReply(200, send_message(event.chat_id, texts.render(language, "text_only")))
        case Prompt() | StyleChosen():
            message_id = publisher.publish(
                settings.prompts_topic, encode_event(event), update_id=str(event.update_id), kind=event.kind
            )
            log.info(
                "update published",
                extra=fields(stage="webhook", update_id=event.update_id, reason=f"{event.kind} {message_id}"),
            )
            if isinstance(event, StyleChosen):
                language = texts.language_for(event.language_code)
                answer = texts.render(language, "style_chosen", style=label(event.style))
                return WebhookReply(
                    200, {"method": "answerCallbackQuery", "callback_query_id": event.callback_query_id, "text": answer}
                )
            return WebhookReply(200)
        case Ignored():
            log.info("update ignored", extra=fields(stage="webhook", update_id=event.update_id, reason=event.reason))
            return WebhookReply(200)


def command_reply(command: Command, settings: Settings) -> dict[str, Any]:
    language = texts.language_for(command.language_code)
    if command.name == "start":
        text = texts.render(language, "start", name=command.first_name or texts.render(language, "friend"))
    elif command.name == "help":
        text = texts.render(language, "help", min=settings.prompt_min_chars, max=settings.prompt_max_chars)
    else:
        text = texts.render(language, "unknown_command")
    return send_message(command.chat_id, text)


def send_message(chat_id: int, text: str) -> dict[str, Any]:
    return {"method": "sendMessage", "chat_id": chat_id, "text": text, "parse_mode": "HTML"}
