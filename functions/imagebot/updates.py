"""Telegram Updates turned into the few events the bot acts on. Pure: no I/O.

The webhook parses once; the events that need work later (a prompt, a style choice) travel on
the prompts topic as JSON and are read back with `decode_event`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from imagebot.keyboards import parse_style_choice

INBOUND_VERSION = 1


@dataclass(frozen=True)
class Command:
    """A bot command answered in the webhook response itself (/start, /help, unknown ones)."""

    update_id: int
    chat_id: int
    name: str
    language_code: str | None
    first_name: str = ""


@dataclass(frozen=True)
class Prompt:
    update_id: int
    chat_id: int
    user_id: int
    message_id: int
    text: str
    language_code: str | None = None
    received_at: float = field(default_factory=time.time)
    kind: str = "prompt"


@dataclass(frozen=True)
class StyleChosen:
    update_id: int
    chat_id: int
    user_id: int
    callback_query_id: str
    job_id: str
    style: str
    language_code: str | None = None
    received_at: float = field(default_factory=time.time)
    kind: str = "style_chosen"


@dataclass(frozen=True)
class NotText:
    """A sticker, photo, voice… in a private chat: the user is told to send words."""

    update_id: int
    chat_id: int
    language_code: str | None


@dataclass(frozen=True)
class Ignored:
    """An update the bot does not act on; answered 200 so Telegram does not retry it."""

    update_id: int
    reason: str


Event = Command | Prompt | StyleChosen | NotText | Ignored
Published = Prompt | StyleChosen


class MalformedUpdate(ValueError):
    pass


def parse_update(update: Any) -> Event:
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        raise MalformedUpdate("an update is a JSON object with an integer update_id")
    update_id: int = update["update_id"]
    try:
        if "message" in update:
            return _parse_message(update_id, update["message"])
        if "callback_query" in update:
            return _parse_callback(update_id, update["callback_query"])
    except (KeyError, TypeError) as error:
        raise MalformedUpdate(f"update {update_id} lacks a field: {error}") from error
    kinds = sorted(set(update) - {"update_id"})
    return Ignored(update_id, f"unhandled update kind {','.join(kinds) or 'none'}")


def _parse_message(update_id: int, message: dict[str, Any]) -> Event:
    chat = message["chat"]
    sender = message.get("from") or {}
    language = sender.get("language_code")
    text = message.get("text")
    private = chat.get("type") == "private"
    if text is None:
        return NotText(update_id, chat["id"], language) if private else Ignored(update_id, "not text")
    if text.startswith("/"):
        name = text.split()[0][1:].split("@")[0].lower()
        return Command(update_id, chat["id"], name, language, sender.get("first_name", ""))
    if not private:
        return Ignored(update_id, "group chat text that is not a command")
    if "id" not in sender:
        return Ignored(update_id, "message without a sender")
    return Prompt(update_id, chat["id"], sender["id"], message["message_id"], text, language)


def _parse_callback(update_id: int, query: dict[str, Any]) -> Event:
    choice = parse_style_choice(query.get("data") or "")
    message = query.get("message")
    if choice is None or not message:
        return Ignored(update_id, "callback data the bot did not send")
    style, job_id = choice
    sender = query["from"]
    return StyleChosen(
        update_id, message["chat"]["id"], sender["id"], query["id"], job_id, style, sender.get("language_code")
    )


def encode_event(event: Published) -> bytes:
    return json.dumps({"v": INBOUND_VERSION, **asdict(event)}, ensure_ascii=False).encode()


def decode_event(body: bytes) -> Published:
    try:
        raw = json.loads(body)
        version = raw.pop("v")
        if version != INBOUND_VERSION:
            raise MalformedUpdate(f"unsupported inbound version {version}")
        kind = raw.get("kind")
        if kind == "prompt":
            return Prompt(**raw)
        if kind == "style_chosen":
            return StyleChosen(**raw)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise MalformedUpdate(f"not an inbound event: {error}") from error
    raise MalformedUpdate(f"unknown inbound kind {kind!r}")
