"""The users' side: turn "user 42 writes /start" into the Update Telegram would send, and log it.

Messages from users and from the bot share one message_id sequence per chat, as in Telegram.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from typing import TYPE_CHECKING, Any

from local.fake_telegram import _inline, _markup, _media, _updates
from local.fake_telegram._errors import BotApiError
from local.fake_telegram._params import Params
from local.fake_telegram._store import InlineMessage, InlineQuery, Store, now

if TYPE_CHECKING:
    from local.fake_telegram._methods import BotApi

# Media a user can send besides text and photos; the bot is expected to refuse them.
_OTHER_MEDIA = {"animation": _media.animation, "video": _media.video, "video_note": _media.video_note}


def _place_in_topic(message: dict[str, Any], request: dict[str, Any]) -> None:
    topic = optional_int(request, "message_thread_id")
    if topic is not None:  # sent in a forum topic, as Telegram marks it
        message.update(message_thread_id=topic, is_topic_message=True)


class ConversationError(ValueError):
    """A control request that describes something a Telegram user could not do."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class Conversation:
    def __init__(self, store: Store, api: BotApi) -> None:
        self.store = store
        self.api = api

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
        media = self._media_of(request)
        if media is not None:
            return self._media_message(request, chat, sender, media)
        text = request.get("text")
        if not request.get("sticker") and (not isinstance(text, str) or not text):
            raise ConversationError(
                400, 'text is required (or "sticker", "animation", "video", "video_note": true, or "photo")'
            )
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
            _place_in_topic(message, request)
            self.store.save_message(message)
            self.store.note(chat_id, _user_note(kind, message, user_id))
            return self._update(request, "message", message)

    def _media_of(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """The media part of a user's message: a photo or document from base64 bytes, or a stub medium."""
        for kind, make in _OTHER_MEDIA.items():
            if request.get(kind):
                return make(self.store)
        encoded = request.get("photo")
        if encoded is None:
            return None
        try:
            data = base64.b64decode(str(encoded), validate=True)
        except (binascii.Error, ValueError):
            raise ConversationError(400, "photo must be the file's bytes in base64") from None
        if not data:
            raise ConversationError(400, "photo is empty")
        image = None if request.get("as_document") else _media.open_image(data)
        if image is None:
            # What Pillow cannot open (or was sent as a file) arrives as a document, as from the apps.
            name = str(request.get("file_name") or "file")
            mime = str(request.get("mime_type") or _media.sniffed_mime(data))
            return {"document": _media.document(self.store, data, name, mime)}
        return {"photo": _media.photo_sizes(self.store, data, image)}

    def _media_message(
        self, request: dict[str, Any], chat: dict[str, Any], sender: dict[str, Any], media: dict[str, Any]
    ) -> dict[str, Any]:
        caption = request.get("caption")
        if caption is not None and not isinstance(caption, str):
            raise ConversationError(400, "caption must be a string")
        with self.store.lock:
            reply_to = self._reply_to(chat["id"], request.get("reply_to_message_id"))
            self.store.chat_log(chat["id"], known=chat)
            message: dict[str, Any] = {
                "message_id": self.store.new_message_id(chat["id"]),
                "from": sender,
                "chat": chat,
                "date": now(),
                **media,
            }
            if request.get("media_group_id") is not None:
                message["media_group_id"] = str(request["media_group_id"])
            if caption:
                message["caption"] = caption
            if reply_to is not None:
                message["reply_to_message"] = _updates.without_reply(reply_to)
            _place_in_topic(message, request)
            self.store.save_message(message)
            kind = next(kind for kind in ("photo", *_OTHER_MEDIA, "document") if kind in message)
            self.store.note(chat["id"], _user_note(kind, message, sender["id"]))
            return self._update(request, "message", message)

    def inline_query(self, request: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(query id, the inline_query Update) for a control request to /_fake/inline_queries."""
        sender = self._sender(request)
        query = request.get("query", "")
        if not isinstance(query, str) or len(query) > 256:
            raise ConversationError(400, "query must be a string of at most 256 characters")
        query_id = str(secrets.randbelow(10**18) + 10**18)
        payload: dict[str, Any] = {
            "id": query_id,
            "from": sender,
            "query": query,
            "offset": str(request.get("offset") or ""),
        }
        chat_type = request.get("chat_type")
        if chat_type is not None:
            if chat_type not in ("sender", *_updates.CHAT_TYPES):
                raise ConversationError(400, f"chat_type {chat_type!r} is not an inline chat type")
            payload["chat_type"] = chat_type
        with self.store.lock:
            self.store.inline_queries[query_id] = InlineQuery(sender, query, time.time())
        return query_id, self._update(request, "inline_query", payload)

    def choose_inline_result(self, request: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The user picks a result: (the message placed, the chosen_inline_result Update).

        The message goes to `chat_id` (the user's private chat by default) "via" the bot. Telegram
        gives an inline_message_id only when the result has a keyboard; so does the fake.
        """
        sender = self._sender(request)
        query_id = str(request.get("inline_query_id") or "")
        result_id = str(request.get("result_id") or "")
        with self.store.lock:
            query = self.store.inline_queries.get(query_id)
        if query is None or query.sender["id"] != sender["id"]:
            raise ConversationError(404, f"user {sender['id']} asked no inline query {query_id!r}")
        result = _inline.find_result(query.answer, result_id)
        if result is None:
            raise ConversationError(409, f"the answer to inline query {query_id} has no result {result_id!r}")
        content = self._result_content(result)
        chat_id = integer(request, "chat_id", default=sender["id"])
        with self.store.lock:
            private = _updates.chat(chat_id, "private", sender) if chat_id == sender["id"] else None
            log = self.store.chat_log(chat_id, known=private)
            message: dict[str, Any] = {
                "message_id": self.store.new_message_id(chat_id),
                "from": sender,
                "chat": log.chat,
                "date": now(),
                "via_bot": self.store.bot,
                **content,
            }
            shown = _markup.shown_on_message(result.get("reply_markup"))
            chosen: dict[str, Any] = {"result_id": result_id, "from": sender, "query": query.query}
            if shown:
                message["reply_markup"] = shown
                inline_message_id = secrets.token_urlsafe(27)
                self.store.inline_messages[inline_message_id] = InlineMessage(chat_id, message["message_id"])
                chosen["inline_message_id"] = inline_message_id
            saved = self.store.save_message(message)
            note = _user_note("inline_result", saved, sender["id"])
            self.store.note(chat_id, {**note, "result_id": result_id})
            return saved, self._update(request, "chosen_inline_result", chosen)

    def _result_content(self, result: dict[str, Any]) -> dict[str, Any]:
        if "input_message_content" in result:
            return _inline.text_content(result)
        try:
            if "photo_file_id" in result:
                photo = self.api.photo_of(str(result["photo_file_id"]))
            else:
                fetched = self.api.media_content(Params({}), str(result["photo_url"]), "photo")
                photo = self.api.photo_of(fetched)
        except BotApiError as error:
            raise ConversationError(
                409, f"result {result['id']!r} has no photo to show: {error.description}"
            ) from None
        return {"photo": photo, **_inline.caption_content(result)}

    def _sender(self, request: dict[str, Any]) -> dict[str, Any]:
        return _updates.user(
            integer(request, "user_id"),
            first_name=str(request.get("first_name") or "Test"),
            username=request.get("username"),
            language_code=request.get("language_code"),
        )

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
    if "caption" in message:
        note["caption"] = message["caption"]
    if "sticker" in message:
        note["sticker"] = message["sticker"]["emoji"]
    return {**note, **_media_note(message)}


def _media_note(message: dict[str, Any]) -> dict[str, Any]:
    note: dict[str, Any] = {}
    if "photo" in message:
        note["photo_file_id"] = message["photo"][-1]["file_id"]
    if "document" in message:
        note["document_file_id"] = message["document"]["file_id"]
    if "media_group_id" in message:
        note["media_group_id"] = message["media_group_id"]
    return note
