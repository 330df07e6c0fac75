"""The Bot API methods the bot uses, answering as Telegram does (results, errors and their texts).

Each method is a function `(api, params) -> result` registered under its Telegram name; method
names are case-insensitive in the Bot API, so the registry is keyed by the lower-cased name.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from local.fake_telegram import _formatting, _inline, _markup, _media, _stars
from local.fake_telegram._errors import BotApiError, bad_request, not_found
from local.fake_telegram._params import Params, Upload
from local.fake_telegram._store import NO_WEBHOOK_INFO, Store, Webhook, now

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a "
    "current content and reply markup of the message"
)


@dataclass(frozen=True)
class Described:
    """A result Telegram sends with a `description` beside it (setWebhook, deleteWebhook)."""

    result: Any
    description: str


Method = Callable[["BotApi", Params], Any]
METHODS: dict[str, Method] = {}


def method(name: str) -> Callable[[Method], Method]:
    def register(function: Method) -> Method:
        METHODS[name.lower()] = function
        return function

    return register


class BotApi:
    def __init__(
        self,
        store: Store,
        fetch_timeout: float = 10.0,
        inline_query_timeout: float = 10.0,
        pre_checkout_timeout: float = 10.0,
    ) -> None:
        self.store = store
        self.fetch_timeout = fetch_timeout
        # Telegram takes an inline query's answer for a few seconds only (then "query is too old").
        self.inline_query_timeout = inline_query_timeout
        # A pre-checkout query must be answered within 10 seconds, or the payment fails.
        self.pre_checkout_timeout = pre_checkout_timeout

    def call(
        self, name: str, params: Params, *, http_method: str = "POST", via_webhook_response: bool = False
    ) -> dict[str, Any]:
        """Run one method and record it; returns the call record, whose `response` is the answer."""
        started = time.time()
        ticket = self.store.call_began(name, params.recorded(), started)
        try:
            handler = METHODS.get(name.lower())
            if handler is None:
                raise not_found()
            fault = self.store.faults.take(name)
            if fault is not None:
                time.sleep(fault.delay)
                error = fault.error()
                if error is not None:
                    raise error
            result = handler(self, params)
            if isinstance(result, Described):
                response = {"ok": True, "result": result.result, "description": result.description}
            else:
                response = {"ok": True, "result": result}
            status = 200
        except BotApiError as error:
            response, status = error.payload(), error.error_code
        finally:
            self.store.call_ended(ticket)
        return self._record(name, params, http_method, via_webhook_response, started, status, response)

    def refuse(self, name: str, params: Params, error: BotApiError, *, http_method: str) -> dict[str, Any]:
        """Record a call answered before any method ran (a wrong token)."""
        return self._record(name, params, http_method, False, time.time(), error.error_code, error.payload())

    def _record(
        self,
        name: str,
        params: Params,
        http_method: str,
        via_webhook_response: bool,
        started: float,
        status: int,
        response: dict[str, Any],
    ) -> dict[str, Any]:
        return self.store.record_call(
            {
                "time": started,
                "method": name,
                "http_method": http_method,
                "params": params.recorded(),
                "files": [upload.describe() for upload in params.uploads.values()],
                "via_webhook_response": via_webhook_response,
                "status": status,
                "response": response,
            }
        )

    # -- shared by the methods ------------------------------------------------------------------

    def outgoing(
        self, chat_id: int, p: Params, content: dict[str, Any], markup: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Send a bot message into a chat: the Message Telegram answers with."""
        with self.store.lock:
            reply_to = self._replied_message(chat_id, p)
            log = self.store.chat_log(chat_id)
            message: dict[str, Any] = {
                "message_id": self.store.new_message_id(chat_id),
                "from": self.store.bot,
                "chat": log.chat,
                "date": now(),
                **content,
            }
            if reply_to is not None:
                message["reply_to_message"] = reply_to
            thread_id = p.integer("message_thread_id")
            if thread_id is not None:
                message.update(message_thread_id=thread_id, is_topic_message=True)
            shown = _markup.shown_on_message(markup)
            if shown:
                message["reply_markup"] = shown
            saved = self.store.save_message(message)
            self.store.note(chat_id, {"from": "bot", "event": "message", **_summary(saved)})
            return saved

    def _replied_message(self, chat_id: int, p: Params) -> dict[str, Any] | None:
        reply = p.json_value("reply_parameters", "can't parse reply parameters JSON object") or {}
        message_id = reply.get("message_id") if isinstance(reply, dict) else None
        if message_id is None:
            message_id = p.integer("reply_to_message_id")
        if message_id is None:
            return None
        if isinstance(message_id, bool) or not isinstance(message_id, int | str):
            raise bad_request("invalid reply_parameters specified")
        try:
            replied = self.store.message(chat_id, int(message_id))
        except ValueError:
            raise bad_request("invalid reply_parameters specified") from None
        allow_without = reply.get("allow_sending_without_reply") or p.boolean("allow_sending_without_reply")
        if replied is None and not allow_without:
            raise bad_request("message to be replied not found")
        if replied is not None:
            replied.pop("reply_to_message", None)
        return replied

    def bot_message(self, p: Params, *, edit: bool) -> tuple[int, dict[str, Any]]:
        verb = "edit" if edit else "delete"
        chat_id = p.chat_id()
        message_id = p.required_integer("message_id", "message identifier is not specified")
        found = self.store.message(chat_id, message_id)
        if found is None:
            raise bad_request(f"message to {verb} not found")
        if edit and self.store.bot["id"] not in (found["from"].get("id"), found.get("via_bot", {}).get("id")):
            raise bad_request("message can't be edited")
        return chat_id, found

    def file_content(self, p: Params, field: str) -> Upload | str:
        """An uploaded file, or the file_id of one Telegram already has (a URL is fetched)."""
        if field in p.uploads:
            return p.uploads[field]
        value = p.string(field)
        if not value:
            raise bad_request(f"there is no {field} in the request")
        return self.media_content(p, value, field)

    def media_content(self, p: Params, value: str, field: str) -> Upload | str:
        """A file named by `attach://<part>`, a URL (fetched) or a file_id."""
        if value.startswith("attach://"):
            upload = p.uploads.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request("can't parse InputMedia: media not found")
            return upload
        if value.startswith(("http://", "https://")):
            try:
                response = httpx.get(value, timeout=self.fetch_timeout, follow_redirects=True)
                response.raise_for_status()
            except httpx.HTTPError:
                raise bad_request("failed to get HTTP URL content") from None
            filename = value.rsplit("/", 1)[-1].split("?", 1)[0] or field
            content_type = response.headers.get("content-type", "application/octet-stream").split(";")[0]
            return Upload(field, filename, content_type, response.content)
        return value

    def photo_sizes(self, upload: Upload) -> list[dict[str, Any]]:
        """A bot's photo, checked as Telegram checks it before it takes one."""
        if len(upload.data) > MAX_PHOTO_BYTES:
            raise BotApiError(413, "Request Entity Too Large")
        image = _media.open_image(upload.data)
        try:
            if image is None:
                raise OSError
            image.load()
        except (OSError, ValueError, SyntaxError):
            raise bad_request("IMAGE_PROCESS_FAILED") from None
        width, height = image.size
        if width + height > 10_000 or max(width, height) > 20 * min(width, height):
            raise bad_request("PHOTO_INVALID_DIMENSIONS")
        return _media.photo_sizes(self.store, upload.data, image)

    def photo_of(self, content: Upload | str) -> list[dict[str, Any]]:
        """The PhotoSize array of an upload or of a photo's file_id."""
        if isinstance(content, Upload):
            return self.photo_sizes(content)
        sizes = self.store.photo_set(content)
        if sizes is None:
            raise _unknown_file(self, content)
        return sizes

    def edit_target(self, p: Params) -> tuple[int, dict[str, Any], bool]:
        """(chat_id, message, inline?) for an edit by chat_id+message_id or by inline_message_id."""
        inline_id = p.string("inline_message_id")
        if not inline_id:
            chat_id, message = self.bot_message(p, edit=True)
            return chat_id, message, False
        placed = self.store.inline_messages.get(inline_id)
        found = self.store.message(placed.chat_id, placed.message_id) if placed else None
        if placed is None or found is None:
            raise bad_request("MESSAGE_ID_INVALID")
        return placed.chat_id, found, True


def _reply_markup(p: Params) -> dict[str, Any] | None:
    return _markup.reply_markup(p.json_value("reply_markup", "can't parse reply keyboard markup JSON object"))


def _with_entities(message: dict[str, Any], key: str, shown: _formatting.Formatted) -> dict[str, Any]:
    """Telegram leaves the entities field out when there are none."""
    if shown.entities:
        message[key] = shown.entities
    return message


def _summary(message: dict[str, Any]) -> dict[str, Any]:
    """The parts of a message a transcript shows."""
    summary: dict[str, Any] = {"message_id": message["message_id"]}
    for key in ("text", "caption"):
        if key in message:
            summary[key] = message[key]
    if "photo" in message:
        summary["photo_file_id"] = message["photo"][-1]["file_id"]
    if "document" in message:
        summary["document_file_id"] = message["document"]["file_id"]
        summary["file_name"] = message["document"].get("file_name")
    if "media_group_id" in message:
        summary["media_group_id"] = message["media_group_id"]
    if "sticker" in message:
        summary["sticker"] = message["sticker"]["emoji"]
    if "invoice" in message:
        summary["invoice"] = {key: message["invoice"][key] for key in ("title", "currency", "total_amount")}
    if "reply_markup" in message:
        summary["buttons"] = [
            [button["text"] for button in row] for row in message["reply_markup"]["inline_keyboard"]
        ]
    return summary


# -- the bot and its webhook ------------------------------------------------------------------------


@method("getMe")
def get_me(api: BotApi, p: Params) -> dict[str, Any]:
    return {
        **api.store.bot,
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": True,
    }


@method("setWebhook")
def set_webhook(api: BotApi, p: Params) -> Described:
    url = p.string("url") or ""
    if not url:
        return delete_webhook(api, p)
    # Telegram insists on HTTPS; the fake also takes plain HTTP, since everything here is loopback.
    if not url.startswith(("https://", "http://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = p.string("secret_token")
    if secret is not None and not _SECRET_TOKEN.match(secret):
        raise bad_request("secret token contains unallowed characters")
    max_connections = p.integer("max_connections") or 40
    if not 1 <= max_connections <= 100:
        raise bad_request("bad webhook: max_connections must be between 1 and 100")
    allowed = p.json_value("allowed_updates", "can't parse allowed updates JSON array")
    if allowed is not None and not (
        isinstance(allowed, list) and all(isinstance(kind, str) for kind in allowed)
    ):
        raise bad_request("can't parse allowed updates JSON array")
    with api.store.lock:
        current = api.store.webhook
        if current is not None and (
            current.url,
            current.secret_token,
            current.max_connections,
            current.allowed_updates,
        ) == (url, secret, max_connections, allowed):
            return Described(True, "Webhook is already set")
        api.store.webhook = Webhook(
            url, secret, max_connections, allowed, threading.BoundedSemaphore(max_connections)
        )
    return Described(True, "Webhook was set")


@method("deleteWebhook")
def delete_webhook(api: BotApi, p: Params) -> Described:
    with api.store.lock:
        existed, api.store.webhook = api.store.webhook is not None, None
    return Described(True, "Webhook was deleted" if existed else "Webhook is already deleted")


@method("getWebhookInfo")
def get_webhook_info(api: BotApi, p: Params) -> dict[str, Any]:
    with api.store.lock:
        webhook = api.store.webhook
        return webhook.describe() if webhook else dict(NO_WEBHOOK_INFO)


def _commands_key(p: Params) -> tuple[str, str]:
    scope = p.json_value("scope", "can't parse BotCommandScope JSON object") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope JSON object")
    return json.dumps(scope, sort_keys=True), p.string("language_code") or ""


@method("setMyCommands")
def set_my_commands(api: BotApi, p: Params) -> bool:
    commands = p.json_value("commands", "can't parse commands JSON array")
    if commands is None:
        raise bad_request('parameter "commands" is required')
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON array")
    for command in commands:
        if not isinstance(command, dict) or not _COMMAND_NAME.match(str(command.get("command", ""))):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(str(command.get("description", ""))) <= 256:
            raise bad_request("command description must be non-empty")
    key = _commands_key(p)
    with api.store.lock:
        api.store.commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
    return True


@method("getMyCommands")
def get_my_commands(api: BotApi, p: Params) -> list[dict[str, str]]:
    key = _commands_key(p)
    with api.store.lock:
        return list(api.store.commands.get(key, []))


@method("deleteMyCommands")
def delete_my_commands(api: BotApi, p: Params) -> bool:
    key = _commands_key(p)
    with api.store.lock:
        api.store.commands.pop(key, None)
    return True


# -- messages ---------------------------------------------------------------------------------------


@method("sendMessage")
def send_message(api: BotApi, p: Params) -> dict[str, Any]:
    chat_id = p.chat_id()
    shown = _formatting.message_formatted(
        p.required_string("text", "message text is empty"), p.string("parse_mode")
    )
    return api.outgoing(chat_id, p, _with_entities({"text": shown.text}, "entities", shown), _reply_markup(p))


@method("editMessageText")
def edit_message_text(api: BotApi, p: Params) -> dict[str, Any] | bool:
    text = _formatting.message_formatted(
        p.required_string("text", "message text is empty"), p.string("parse_mode")
    )
    markup = _reply_markup(p)
    with api.store.lock:
        chat_id, message, inline = api.edit_target(p)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        # Without reply_markup Telegram removes the inline keyboard: an edit must resend it.
        shown = _markup.shown_on_message(markup)
        unchanged = (message["text"], message.get("entities", [])) == (text.text, text.entities)
        if unchanged and message.get("reply_markup") == shown:
            raise bad_request(_NOT_MODIFIED)
        message.pop("entities", None)
        _with_entities(message, "entities", text)
        message["text"] = text.text
        message["edit_date"] = now()
        message.pop("reply_markup", None)
        if shown:
            message["reply_markup"] = shown
        saved = api.store.save_message(message)
        api.store.note(chat_id, {"from": "bot", "event": "edited", **_summary(saved)})
        return True if inline else saved


@method("editMessageCaption")
def edit_message_caption(api: BotApi, p: Params) -> dict[str, Any] | bool:
    caption = _formatting.caption_formatted(p.string("caption") or "", p.string("parse_mode"))
    markup = _reply_markup(p)
    with api.store.lock:
        chat_id, message, inline = api.edit_target(p)
        if not any(kind in message for kind in ("photo", "document")):
            raise bad_request("there is no caption in the message to edit")
        shown = _markup.shown_on_message(markup)
        current = (message.get("caption"), message.get("caption_entities", []))
        if current == (caption or (None, [])) and message.get("reply_markup") == shown:
            raise bad_request(_NOT_MODIFIED)
        for key in ("caption", "caption_entities", "reply_markup"):
            message.pop(key, None)
        if caption:
            message["caption"] = caption.text
            _with_entities(message, "caption_entities", caption)
        if shown:
            message["reply_markup"] = shown
        message["edit_date"] = now()
        saved = api.store.save_message(message)
        api.store.note(chat_id, {"from": "bot", "event": "edited", **_summary(saved)})
        return True if inline else saved


@method("editMessageReplyMarkup")
def edit_message_reply_markup(api: BotApi, p: Params) -> dict[str, Any] | bool:
    markup = _reply_markup(p)
    with api.store.lock:
        chat_id, message, inline = api.edit_target(p)
        shown = _markup.shown_on_message(markup)
        if message.get("reply_markup") == shown:
            raise bad_request(_NOT_MODIFIED)
        message.pop("reply_markup", None)
        if shown:
            message["reply_markup"] = shown
        message["edit_date"] = now()
        saved = api.store.save_message(message)
        api.store.note(chat_id, {"from": "bot", "event": "markup_edited", **_summary(saved)})
        return True if inline else saved


@method("deleteMessage")
def delete_message(api: BotApi, p: Params) -> bool:
    with api.store.lock:
        chat_id, message = api.bot_message(p, edit=False)
        api.store.delete_message(chat_id, message["message_id"])
        api.store.note(chat_id, {"from": "bot", "event": "deleted", "message_id": message["message_id"]})
    return True


@method("sendChatAction")
def send_chat_action(api: BotApi, p: Params) -> bool:
    chat_id = p.chat_id()
    action = p.string("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    api.store.chat_log(chat_id)
    api.store.note(chat_id, {"from": "bot", "event": "chat_action", "action": action})
    return True


@method("answerCallbackQuery")
def answer_callback_query(api: BotApi, p: Params) -> bool:
    query_id = p.required_string(
        "callback_query_id", "query is too old and response timeout expired or query ID is invalid"
    )
    text = p.string("text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    chat_id = api.store.close_callback_query(query_id)
    api.store.note(
        chat_id,
        {
            "from": "bot",
            "event": "callback_answer",
            "callback_query_id": query_id,
            "text": text,
            "show_alert": p.boolean("show_alert"),
        },
    )
    return True


# -- files ------------------------------------------------------------------------------------------


@method("sendPhoto")
def send_photo(api: BotApi, p: Params) -> dict[str, Any]:
    chat_id = p.chat_id()
    caption = _formatting.caption_formatted(p.string("caption"), p.string("parse_mode"))
    markup = _reply_markup(p)
    message: dict[str, Any] = {"photo": api.photo_of(api.file_content(p, "photo"))}
    if caption:
        message["caption"] = caption.text
        _with_entities(message, "caption_entities", caption)
    if p.boolean("has_spoiler"):
        message["has_media_spoiler"] = True
    return api.outgoing(chat_id, p, message, markup)


@method("sendDocument")
def send_document(api: BotApi, p: Params) -> dict[str, Any]:
    chat_id = p.chat_id()
    caption = _formatting.caption_formatted(p.string("caption"), p.string("parse_mode"))
    markup = _reply_markup(p)
    content = api.file_content(p, "document")
    if isinstance(content, Upload):
        if len(content.data) > MAX_DOCUMENT_BYTES:
            raise BotApiError(413, "Request Entity Too Large")
        document = _media.document(api.store, content.data, content.filename, content.content_type)
    else:
        with api.store.lock:
            known = api.store.documents.get(content)
        if known is None:
            raise _unknown_file(api, content)
        document = dict(known)
    message: dict[str, Any] = {"document": document}
    if caption:
        message["caption"] = caption.text
        _with_entities(message, "caption_entities", caption)
    return api.outgoing(chat_id, p, message, markup)


def _unknown_file(api: BotApi, file_id: str) -> BotApiError:
    if api.store.file(file_id) is not None:
        return bad_request("type of file mismatch")
    return bad_request("wrong file identifier/HTTP URL specified")


@method("getFile")
def get_file(api: BotApi, p: Params) -> dict[str, Any]:
    stored = api.store.file(p.required_string("file_id", "invalid file_id"))
    if stored is None:
        raise bad_request("invalid file_id")
    if len(stored.data) > MAX_DOWNLOAD_BYTES:
        raise bad_request("file is too big")
    return stored.describe()


# -- albums and media edits -------------------------------------------------------------------------

# The fields of each InputMedia kind; Telegram ignores others silently, the fake refuses them, so a
# bot that puts buttons on an album item (they would never show) learns it in a test.
_INPUT_MEDIA_FIELDS = {
    "photo": {
        "type",
        "media",
        "caption",
        "parse_mode",
        "caption_entities",
        "show_caption_above_media",
        "has_spoiler",
    },
    "document": {
        "type",
        "media",
        "thumbnail",
        "caption",
        "parse_mode",
        "caption_entities",
        "disable_content_type_detection",
    },
}
MIN_ALBUM, MAX_ALBUM = 2, 10


def _input_media(api: BotApi, p: Params, item: Any) -> dict[str, Any]:
    """The message content of one InputMedia (its file stored, its caption formatted)."""
    if not isinstance(item, dict) or not isinstance(item.get("media"), str) or not item["media"]:
        raise bad_request("can't parse InputMedia: media not found")
    kind = item.get("type")
    fields = _INPUT_MEDIA_FIELDS.get(str(kind))
    if fields is None:
        raise bad_request(f"the fake Bot API knows InputMedia of type photo and document, not {kind!r}")
    unknown = sorted(set(item) - fields)
    if unknown:
        raise bad_request(f"can't parse InputMedia: unknown field {unknown[0]!r} in InputMedia {kind}")
    content = api.media_content(p, item["media"], "media")
    if kind == "photo":
        message: dict[str, Any] = {"photo": api.photo_of(content)}
    elif isinstance(content, Upload):
        message = {
            "document": _media.document(api.store, content.data, content.filename, content.content_type)
        }
    else:
        with api.store.lock:
            known = api.store.documents.get(content)
        if known is None:
            raise _unknown_file(api, content)
        message = {"document": dict(known)}
    caption = _formatting.caption_formatted(item.get("caption"), item.get("parse_mode"))
    if caption:
        message["caption"] = caption.text
        _with_entities(message, "caption_entities", caption)
    if item.get("has_spoiler"):
        message["has_media_spoiler"] = True
    return message


@method("sendMediaGroup")
def send_media_group(api: BotApi, p: Params) -> list[dict[str, Any]]:
    chat_id = p.chat_id()
    items = p.json_value("media", "can't parse media JSON object")
    if items is None:
        raise bad_request('parameter "media" is required')
    if not isinstance(items, list):
        raise bad_request("expected an Array of InputMedia")
    if not items:
        raise bad_request("there are no messages to send")
    if len(items) > MAX_ALBUM:
        raise bad_request("too many messages to send as an album")
    if len(items) < MIN_ALBUM:
        # Telegram's documentation asks for 2-10; a one-item album is a plain sendPhoto.
        raise bad_request(f"an album needs {MIN_ALBUM}-{MAX_ALBUM} media, got {len(items)}")
    if p.present("reply_markup"):
        raise bad_request("sendMediaGroup has no reply_markup: albums cannot carry buttons")
    kinds = {item.get("type") for item in items if isinstance(item, dict)}
    if "document" in kinds and len(kinds) > 1:
        raise bad_request("documents can't be mixed with other media types in an album")
    # Every item is checked and stored before any message is placed: a bad one sends nothing.
    contents = [_input_media(api, p, item) for item in items]
    media_group_id = _media.new_media_group_id()
    with api.store.lock:
        return [
            api.outgoing(chat_id, p, {"media_group_id": media_group_id, **content}, None)
            for content in contents
        ]


_MEDIA_KINDS = ("photo", "document", "video", "animation", "audio")


@method("editMessageMedia")
def edit_message_media(api: BotApi, p: Params) -> dict[str, Any] | bool:
    item = p.json_value("media", "can't parse InputMedia JSON object")
    if item is None:
        raise bad_request('parameter "media" is required')
    markup = _reply_markup(p)
    # Telegram's rule: an inline message's new media is a file_id or a URL, never a new upload.
    if (
        p.present("inline_message_id")
        and isinstance(item, dict)
        and str(item.get("media", "")).startswith("attach://")
    ):
        raise bad_request(
            "a new file can't be uploaded to edit an inline message: send a file_id or an HTTP URL"
        )
    content = _input_media(api, p, item)
    with api.store.lock:
        chat_id, message, inline = api.edit_target(p)
        # "…or to add media to text messages" (Bot API, editMessageMedia): a text message
        # (an inline result's placeholder, say) may get media; its text goes.
        if not any(kind in message for kind in (*_MEDIA_KINDS, "text")):
            raise bad_request("there is no media in the message to edit")
        if "media_group_id" in message and "photo" in message and "document" in content:
            raise bad_request("can't edit a photo of an album into a document")
        shown = _markup.shown_on_message(markup)
        current = {
            key: message[key]
            for key in ("photo", "document", "caption", "caption_entities")
            if key in message
        }
        if current == content and message.get("reply_markup") == shown:
            raise bad_request(_NOT_MODIFIED)
        for key in (
            *_MEDIA_KINDS,
            "text",
            "entities",
            "caption",
            "caption_entities",
            "has_media_spoiler",
            "reply_markup",
        ):
            message.pop(key, None)
        message.update(content)
        if shown:
            message["reply_markup"] = shown
        message["edit_date"] = now()
        saved = api.store.save_message(message)
        api.store.note(chat_id, {"from": "bot", "event": "media_edited", **_summary(saved)})
        return True if inline else saved


# -- inline mode ------------------------------------------------------------------------------------


@method("answerInlineQuery")
def answer_inline_query(api: BotApi, p: Params) -> bool:
    query_id = p.required_string("inline_query_id", _inline.QUERY_TOO_OLD)
    results = p.json_value("results", "can't parse inline query results JSON object")
    if results is None:
        raise bad_request('parameter "results" is required')
    checked = _inline.checked_results(api.store, results)
    next_offset = p.string("next_offset") or ""
    if len(next_offset.encode()) > _inline.MAX_OFFSET_BYTES:
        raise bad_request("NEXT_OFFSET_INVALID")
    with api.store.lock:
        query = api.store.inline_queries.get(query_id)
        if query is None or query.answer is not None or time.time() - query.asked >= api.inline_query_timeout:
            raise bad_request(_inline.QUERY_TOO_OLD)
        query.answer = checked
    return True


# -- Telegram Stars ---------------------------------------------------------------------------------


@method("sendInvoice")
def send_invoice(api: BotApi, p: Params) -> dict[str, Any]:
    chat_id = p.chat_id()
    description = p.string("description")
    terms = _stars.invoice_terms(
        title=p.string("title"),
        description=description,
        payload=p.string("payload"),
        currency=p.string("currency"),
        prices=p.json_value("prices", "can't parse prices JSON object"),
        provider_token=p.string("provider_token"),
    )
    markup = _reply_markup(p)
    _stars.check_pay_button(markup)
    invoice = _stars.invoice_object(terms, description or "", p.string("start_parameter") or "")
    with api.store.lock:
        message = api.outgoing(chat_id, p, {"invoice": invoice}, markup)
        api.store.invoices[(chat_id, message["message_id"])] = terms
        return message


@method("answerPreCheckoutQuery")
def answer_pre_checkout_query(api: BotApi, p: Params) -> bool:
    query_id = p.required_string("pre_checkout_query_id", _stars.QUERY_TOO_OLD)
    if not p.present("ok"):
        raise bad_request('parameter "ok" is required')
    ok = p.boolean("ok")
    error_message = _stars.checked_answer(ok, p.string("error_message"))
    api.store.answer_pre_checkout_query(query_id, ok, error_message, api.pre_checkout_timeout)
    return True


@method("refundStarPayment")
def refund_star_payment(api: BotApi, p: Params) -> bool:
    user_id = p.required_integer("user_id", "USER_ID_INVALID")
    charge_id = p.required_string("telegram_payment_charge_id", _stars.CHARGE_NOT_FOUND)
    # Telegram's refunded_payment message goes in the chat, not to the webhook (see the package
    # docstring: a refund Telegram makes itself is the one the fake delivers).
    api.store.refund_star_payment(user_id, charge_id)
    return True


@method("getStarTransactions")
def get_star_transactions(api: BotApi, p: Params) -> dict[str, Any]:
    offset = p.integer("offset") or 0
    limit = p.integer("limit") or 100
    if offset < 0:
        raise bad_request("offset must be non-negative")
    if not 1 <= limit <= 100:
        raise bad_request("limit must be between 1 and 100")
    with api.store.lock:
        everything = [t for payment in api.store.star_payments.values() for t in payment.transactions()]
    # In chronological order, as Telegram lists them (a refund dates from when it was made).
    everything.sort(key=lambda transaction: transaction["date"])
    return {"transactions": everything[offset : offset + limit]}


@method("getMyStarBalance")
def get_my_star_balance(api: BotApi, p: Params) -> dict[str, Any]:
    with api.store.lock:
        payments = list(api.store.star_payments.values())
    return {"amount": sum(payment.amount for payment in payments if not payment.refunded)}
