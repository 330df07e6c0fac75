"""Telegram Updates turned into the few events the bot acts on. Pure: no I/O.

The webhook parses once; events that need state (prompts, stateful commands, button presses)
travel on the prompts topic as JSON and are read back with `decode_event`.

In groups the bot reacts only to commands (addressed to it, or to no bot in particular),
mentions of it, and replies to its own messages; everything else there is ignored.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from imagebot.core import keyboards
from imagebot.core.vocabulary import STYLES

INBOUND_VERSION = 1
ALLOWED_UPDATES = ("message", "callback_query")  # what parse_update reads; setWebhook asks for these
_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?(?:\s+(.*))?$", re.DOTALL)


@dataclass(frozen=True)
class Prompt:
    update_id: int
    chat_id: int
    user_id: int
    message_id: int
    text: str
    language_code: str | None = None
    style: str | None = None  # from a shortcut such as /pixel
    received_at: float = field(default_factory=time.time)
    kind: str = "prompt"


@dataclass(frozen=True)
class Command:
    update_id: int
    chat_id: int
    user_id: int
    message_id: int
    name: str
    args: str = ""
    language_code: str | None = None
    first_name: str = ""
    received_at: float = field(default_factory=time.time)
    kind: str = "command"


@dataclass(frozen=True)
class Button:
    update_id: int
    chat_id: int
    user_id: int
    message_id: int
    callback_query_id: str
    action: str
    args: tuple[str, ...]
    language_code: str | None = None
    received_at: float = field(default_factory=time.time)
    kind: str = "button"


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


Published = Prompt | Command | Button
Event = Published | NotText | Ignored


class MalformedUpdate(ValueError):
    pass


def parse_update(update: Any, bot_username: str = "") -> Event:
    if not isinstance(update, dict) or not isinstance(update.get("update_id"), int):
        raise MalformedUpdate("an update is a JSON object with an integer update_id")
    update_id: int = update["update_id"]
    try:
        if "message" in update:
            return _parse_message(update_id, update["message"], bot_username.lower())
        if "callback_query" in update:
            return _parse_callback(update_id, update["callback_query"])
    except (KeyError, TypeError, AttributeError) as error:
        raise MalformedUpdate(f"update {update_id} lacks a field: {error}") from error
    kinds = sorted(set(update) - {"update_id"})
    return Ignored(update_id, f"unhandled update kind {','.join(kinds) or 'none'}")


def _parse_message(update_id: int, message: dict[str, Any], bot: str) -> Event:
    chat = message["chat"]
    sender = message.get("from") or {}
    private = chat["type"] == "private"
    text: str | None = message.get("text")
    if text is None:
        return (
            NotText(update_id, chat["id"], sender.get("language_code"))
            if private
            else Ignored(update_id, "not text")
        )
    if "id" not in sender:
        return Ignored(update_id, "message without a sender")
    base = {
        "update_id": update_id,
        "chat_id": chat["id"],
        "user_id": sender["id"],
        "message_id": message["message_id"],
        "language_code": sender.get("language_code"),
    }
    command = _COMMAND.match(text.strip())
    if command:
        name, addressee, args = command.group(1).lower(), command.group(2), (command.group(3) or "").strip()
        if addressee and bot and addressee.lower() != bot:
            return Ignored(update_id, "a command for another bot")
        if name in STYLES:
            return Prompt(**base, text=args, style=name) if args else Command(**base, name=name)
        return Command(**base, name=name, args=args, first_name=sender.get("first_name", ""))
    if private:
        return Prompt(**base, text=text)
    mention = f"@{bot}" if bot else None
    if mention and mention in text.lower():
        return Prompt(**base, text=re.sub(re.escape(mention), " ", text, flags=re.IGNORECASE))
    replied = (message.get("reply_to_message") or {}).get("from") or {}
    if bot and (replied.get("username") or "").lower() == bot:
        return Prompt(**base, text=text)
    return Ignored(update_id, "group text not addressed to the bot")


def _parse_callback(update_id: int, query: dict[str, Any]) -> Event:
    callback = keyboards.parse(query.get("data") or "")
    message = query.get("message")
    if callback is None or not message:
        return Ignored(update_id, "callback data the bot did not send")
    sender = query["from"]
    return Button(
        update_id=update_id,
        chat_id=message["chat"]["id"],
        user_id=sender["id"],
        message_id=message["message_id"],
        callback_query_id=query["id"],
        action=callback.action,
        args=callback.args,
        language_code=sender.get("language_code"),
    )


def encode_event(event: Published) -> bytes:
    return json.dumps({"v": INBOUND_VERSION, **asdict(event)}, ensure_ascii=False).encode()


_KINDS: dict[str, type[Prompt] | type[Command] | type[Button]] = {
    "prompt": Prompt,
    "command": Command,
    "button": Button,
}


def decode_event(body: bytes) -> Published:
    try:
        raw = json.loads(body)
        version = raw.pop("v")
        if version != INBOUND_VERSION:
            raise MalformedUpdate(f"unsupported inbound version {version}")
        kind = _KINDS[raw["kind"]]
        if kind is Button:
            raw["args"] = tuple(raw["args"])
        return kind(**raw)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise MalformedUpdate(f"not an inbound event: {error!r}") from error
