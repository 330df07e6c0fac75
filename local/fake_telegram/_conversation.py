"""The users' side: turn "user 42 writes /start" into the Update Telegram would send, and log it.

Messages from users and from the bot share one message_id sequence per chat, as in Telegram.
"""

from __future__ import annotations

from typing import Any

from local.fake_telegram import _markup, _updates
from local.fake_telegram._store import Store, now


class ConversationError(ValueError):
    """A control request that describes something a Telegram user could not do."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class Conversation:
    def __init__(self, store: Store) -> None:
        self.store = store

    def user_message(self, request: dict[str, Any]) -> dict[str, Any]:
        """An Update for a control request to /_fake/messages (see the package docstring)."""
        user_id = integer(request, "user_id")
        chat_id = integer(request, "chat_id", default=user_id)
        sender = _updates.user(
            user_id,
            first_name=str(request.get("first_name") or "Test"),
            username=request.get("username"),
            language_code=request.get("language_code"),
        )
        try:
            chat = _updates.chat(chat_id, str(request.get("chat_type") or "private"), sender)
        except ValueError as error:
            raise ConversationError(400, str(error)) from None
        if request.get("edited"):
            return self._edit(request, chat_id, user_id)
        text = request.get("text")
        if not request.get("sticker") and (not isinstance(text, str) or not text):
            raise ConversationError(400, 'text is required (or "sticker": true)')
        with self.store.lock:
            reply_to = self._reply_to(chat_id, request.get("reply_to_message_id"))
            self.store.chat_log(chat_id, known=chat)
            date = now()
            message_id = self.store.new_message_id(chat_id)
            if request.get("sticker"):
                message = _updates.sticker_message(message_id=message_id, date=date, chat=chat, sender=sender)
                kind = "sticker"
            else:
                message = _updates.text_message(
                    message_id=message_id,
                    date=date,
                    chat=chat,
                    sender=sender,
                    text=str(text),
                    reply_to=reply_to,
                )
                kind = "message"
            self.store.save_message(message)
            self.store.note(chat_id, _user_note(kind, message, user_id))
            return self._update(request, "message", message)

    def _edit(self, request: dict[str, Any], chat_id: int, user_id: int) -> dict[str, Any]:
        text = request.get("text")
        if not isinstance(text, str) or not text:
            raise ConversationError(400, "an edit needs the new text")
        with self.store.lock:
            original = self._users_message(chat_id, user_id, request.get("message_id"))
            message = _updates.edited(original, text=text, edit_date=now())
            self.store.save_message(message)
            self.store.note(chat_id, _user_note("edited", message, user_id))
            return self._update(request, "edited_message", message)

    def _users_message(self, chat_id: int, user_id: int, message_id: Any) -> dict[str, Any]:
        log = self.store.chats.get(chat_id)
        mine = [
            m for m in (log.messages.values() if log else []) if m["from"]["id"] == user_id and "text" in m
        ]
        if message_id is not None:
            wanted = integer({"message_id": message_id}, "message_id")
            mine = [m for m in mine if m["message_id"] == wanted]
        if not mine:
            raise ConversationError(404, f"user {user_id} has no text message to edit in chat {chat_id}")
        return max(mine, key=lambda m: m["message_id"])

    def _reply_to(self, chat_id: int, message_id: Any) -> dict[str, Any] | None:
        if message_id is None:
            return None
        replied = self.store.message(chat_id, integer({"message_id": message_id}, "message_id"))
        if replied is None:
            raise ConversationError(404, f"no message {message_id} in chat {chat_id} to reply to")
        return replied

    def button_press(self, request: dict[str, Any]) -> dict[str, Any]:
        """A callback_query Update for a control request to /_fake/callbacks."""
        user_id = integer(request, "user_id")
        chat_id = integer(request, "chat_id", default=user_id)
        message_id = integer(request, "message_id")
        data = request.get("data")
        if not isinstance(data, str):
            raise ConversationError(400, "data (the button's callback_data) is required")
        with self.store.lock:
            message = self.store.message(chat_id, message_id)
            if message is None:
                raise ConversationError(404, f"no message {message_id} in chat {chat_id}")
            # A user can only press a button that is there; "force" lets a test press a stale one.
            if data not in _markup.callback_data(message) and not request.get("force"):
                raise ConversationError(
                    409,
                    f'message {message_id} has no button with callback_data {data!r} (send "force": true)',
                )
            sender = _updates.user(
                user_id,
                first_name=str(request.get("first_name") or "Test"),
                language_code=request.get("language_code"),
            )
            query_id = self.store.open_callback_query(chat_id)
            query = _updates.callback_query(query_id=query_id, sender=sender, message=message, data=data)
            self.store.note(
                chat_id,
                {
                    "from": "user",
                    "user_id": user_id,
                    "event": "callback",
                    "message_id": message_id,
                    "data": data,
                    "callback_query_id": query_id,
                },
            )
            return self._update(request, "callback_query", query)

    def _update(self, request: dict[str, Any], kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update_id = self.store.claim_update_id(optional_int(request, "update_id"))
        return _updates.update(update_id, kind, payload)


def optional_int(request: dict[str, Any], name: str) -> int | None:
    """An integer field of a control request, if there; 400 when it is not an integer."""
    value = request.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConversationError(400, f"{name} must be an integer, not {value!r}") from None


def integer(request: dict[str, Any], name: str, *, default: int | None = None) -> int:
    value = optional_int(request, name)
    if value is None:
        if default is None:
            raise ConversationError(400, f"{name} (an integer) is required")
        return default
    return value


def _user_note(kind: str, message: dict[str, Any], user_id: int) -> dict[str, Any]:
    note: dict[str, Any] = {
        "from": "user",
        "user_id": user_id,
        "event": kind,
        "message_id": message["message_id"],
    }
    if "text" in message:
        note["text"] = message["text"]
    if "sticker" in message:
        note["sticker"] = message["sticker"]["emoji"]
    return note
