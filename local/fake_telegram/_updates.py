"""Building the Updates a Telegram user would cause: pure functions, no state, no I/O."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from local.fake_telegram._formatting import utf16_len

# Update kinds Telegram sends when `allowed_updates` was never set (it leaves these three out).
NOT_SENT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CHAT_TYPES = ("private", "group", "supergroup", "channel")

_COMMAND = re.compile(r"^/[A-Za-z0-9_]{1,32}(@[A-Za-z0-9_]{5,32})?")


def user(
    user_id: int,
    *,
    first_name: str = "Test",
    username: str | None = None,
    language_code: str | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if username:
        result["username"] = username
    if language_code:
        result["language_code"] = language_code
    return result


def chat(chat_id: int, chat_type: str, sender: dict[str, Any]) -> dict[str, Any]:
    if chat_type not in CHAT_TYPES:
        raise ValueError(f"chat_type must be one of {CHAT_TYPES}, not {chat_type!r}")
    if chat_type == "private":
        if chat_id != sender["id"]:
            raise ValueError("in a private chat the chat id is the user's id")
        result = {"id": chat_id, "first_name": sender["first_name"], "type": "private"}
        if "username" in sender:
            result["username"] = sender["username"]
        return result
    if chat_id >= 0:
        raise ValueError("group, supergroup and channel ids are negative")
    return {"id": chat_id, "title": f"Test {chat_type} {-chat_id}", "type": chat_type}


def command_entities(text: str) -> list[dict[str, Any]]:
    """The `bot_command` entity Telegram adds for a leading /command (lengths in UTF-16 units)."""
    match = _COMMAND.match(text)
    if not match:
        return []
    return [{"offset": 0, "length": utf16_len(match.group(0)), "type": "bot_command"}]


def text_message(
    *,
    message_id: int,
    date: int,
    chat: dict[str, Any],
    sender: dict[str, Any],
    text: str,
    reply_to: dict[str, Any] | None = None,
) -> dict[str, Any]:
    message: dict[str, Any] = {
        "message_id": message_id,
        "from": sender,
        "chat": chat,
        "date": date,
        "text": text,
    }
    entities = command_entities(text)
    if entities:
        message["entities"] = entities
    if reply_to is not None:
        message["reply_to_message"] = without_reply(reply_to)
    return message


def sticker_message(
    *, message_id: int, date: int, chat: dict[str, Any], sender: dict[str, Any], emoji: str = "\U0001f642"
) -> dict[str, Any]:
    sticker = {
        "file_id": f"CAACAgIAAxkBAAF{message_id:06d}",
        "file_unique_id": f"AgAD{message_id:06d}",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": emoji,
        "set_name": "TestStickers",
        "file_size": 23_456,
    }
    return {"message_id": message_id, "from": sender, "chat": chat, "date": date, "sticker": sticker}


def edited(message: dict[str, Any], *, text: str, edit_date: int) -> dict[str, Any]:
    """The message as an `edited_message` update carries it: same id and date, new text."""
    result = {key: value for key, value in message.items() if key not in ("text", "entities")}
    result["text"] = text
    entities = command_entities(text)
    if entities:
        result["entities"] = entities
    result["edit_date"] = edit_date
    return result


def without_reply(message: dict[str, Any]) -> dict[str, Any]:
    """Telegram nests one level only: a replied-to message carries no reply of its own."""
    return {key: value for key, value in message.items() if key != "reply_to_message"}


def callback_query(
    *, query_id: str, sender: dict[str, Any], message: dict[str, Any], data: str
) -> dict[str, Any]:
    return {
        "id": query_id,
        "from": sender,
        "message": message,
        # Stable per chat, as in Telegram: games use it; bots may use it for per-chat state.
        "chat_instance": str(int(hashlib.sha256(b"chat:%d" % message["chat"]["id"]).hexdigest()[:15], 16)),
        "data": data,
    }


def update(update_id: int, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"update_id": update_id, kind: payload}


def update_kind(update: dict[str, Any]) -> str | None:
    """The one field of an Update besides update_id, e.g. "message" or "callback_query"."""
    kinds = [key for key in update if key != "update_id"]
    return kinds[0] if len(kinds) == 1 else None


def is_delivered(kind: str | None, allowed_updates: list[str] | None) -> bool:
    if kind is None:
        return True
    if allowed_updates:
        return kind in allowed_updates
    return kind not in NOT_SENT_BY_DEFAULT
