"""Telegram Updates turned into the few events the bot acts on. Pure: no I/O.

The webhook parses once; events that need state (prompts, photos, stateful commands, button
presses) travel on the prompts topic as JSON and are read back with `decode_event`.

In groups the bot reacts only to commands (addressed to it, or to no bot in particular),
mentions of it, and replies to its own messages; everything else there is ignored. A photo's
caption counts as its text for that.

A photo is a photo message (the largest size Telegram keeps within the limits) or an image sent
as a file (JPEG, PNG or WebP by its mime type): only its file id travels on; the validation
step downloads it and Pillow checks what it really is (core/photos.py).

Telegram Stars (core/payments.py): a `pre_checkout_query` is a PreCheckout, answered in the
webhook response within Telegram's 10 seconds (core/checkout.py); a message with a
`successful_payment` is a PaymentMade, published so the worker credits it (chat/payments.py); a
message with a `refunded_payment` (Telegram's word that Stars went back) is a PaymentRefunded,
published so the worker records a refund the bot did not make itself.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from imagebot.core import keyboards
from imagebot.core.vocabulary import STYLES

INBOUND_VERSION = 1
# What parse_update reads; setWebhook asks for these (inline mode also needs BotFather's
# /setinline, and /setinlinefeedback for chosen_inline_result: docs/DEPLOY.md).
ALLOWED_UPDATES = ("message", "callback_query", "inline_query", "chosen_inline_result", "pre_checkout_query")
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
    message_thread_id: int | None = None  # the forum topic it was sent in (core/answer_to.py)


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
    message_thread_id: int | None = None


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
    message_thread_id: int | None = None  # the topic of the message whose button was pressed


@dataclass(frozen=True)
class InlineQuery:
    """`@bot <prompt>` typed in any chat: answered in the webhook response (chat/inline.py)."""

    update_id: int
    inline_query_id: str
    user_id: int
    query: str
    language_code: str | None = None


@dataclass(frozen=True)
class ChosenInline:
    """The user picked one of our inline results. A "draw" result starts a job whose picture
    replaces the placed message (`inline_message_id`, given because the result had a keyboard)."""

    update_id: int
    user_id: int
    result_id: str
    query: str
    inline_message_id: str | None = None
    language_code: str | None = None
    received_at: float = field(default_factory=time.time)
    kind: str = "chosen_inline"


@dataclass(frozen=True)
class Photo:
    """A photo to draw in a style; `caption` is the user's hint for the prompt ("" for none)."""

    update_id: int
    chat_id: int
    user_id: int
    message_id: int
    file_id: str
    caption: str = ""
    language_code: str | None = None
    style: str | None = None  # from a caption such as "/pixel"
    media_group_id: str | None = None  # one of an album's photos
    received_at: float = field(default_factory=time.time)
    kind: str = "photo"
    message_thread_id: int | None = None  # the forum topic it was sent in (core/answer_to.py)


@dataclass(frozen=True)
class NotDrawable:
    """A sticker, GIF, video, voice or other file in a private chat: the user is told to send
    words or a photo."""

    update_id: int
    chat_id: int
    language_code: str | None


@dataclass(frozen=True)
class PreCheckout:
    """A buyer pressed Pay on an invoice: answered (answerPreCheckoutQuery) within 10 seconds."""

    update_id: int
    pre_checkout_query_id: str
    user_id: int
    currency: str
    total_amount: int  # whole stars for XTR
    invoice_payload: str
    language_code: str | None = None


@dataclass(frozen=True)
class PaymentMade:
    """A message with a successful_payment: the Stars came; the worker adds the credits once."""

    update_id: int
    chat_id: int
    user_id: int
    message_id: int
    charge_id: str  # telegram_payment_charge_id: the ledger's key, and what a refund names
    provider_charge_id: str
    currency: str
    total_amount: int
    invoice_payload: str
    language_code: str | None = None
    received_at: float = field(default_factory=time.time)
    kind: str = "payment"
    message_thread_id: int | None = None  # a private chat's payment message has none


@dataclass(frozen=True)
class PaymentRefunded:
    """A message with a refunded_payment: Telegram returned a payment's Stars, whether the bot
    asked (refundStarPayment) or not (Telegram's support, a dispute)."""

    update_id: int
    chat_id: int
    user_id: int
    charge_id: str
    currency: str
    total_amount: int
    invoice_payload: str
    language_code: str | None = None
    received_at: float = field(default_factory=time.time)
    kind: str = "refunded"


@dataclass(frozen=True)
class Ignored:
    """An update the bot does not act on; answered 200 so Telegram does not retry it."""

    update_id: int
    reason: str


Published = Prompt | Photo | Command | Button | ChosenInline | PaymentMade | PaymentRefunded
Event = Published | InlineQuery | PreCheckout | NotDrawable | Ignored


class MalformedUpdate(ValueError):
    pass


# Telegram's documented ranges. Chat and user ids "may have more than 32 significant bits …
# But [have] at most 52 significant bits, so a signed 64-bit integer or double-precision float
# type are safe for storing this identifier" (Bot API, Chat.id and User.id; the MTProto page
# "Bot API dialog IDs" gives -4,000,000,000,000 to 1,099,511,627,775). update_id and message_id
# are Integers of no stated size: they are held to signed 64 bits, the range Firestore and every
# store downstream can hold, so an id past it (2^70) is refused here and never loops there.
PEER_IDS = range(-(2**52 - 1), 2**52)
INT64_IDS = range(-(2**63), 2**63)
# Telegram sends at most 4,096 characters in a message. A longer text (which no real update
# holds) is refused before it is published; up to here, the validation step answers "too long".
TEXT_MAX_CHARS = 4 * 4096
# Image files the bot takes as a document (by the mime type the app names; Pillow has the last
# word on what a file really is).
IMAGE_MIME_TYPES = ("image/jpeg", "image/png", "image/webp")
# Media that is not a picture to draw. An animation (a GIF) comes with a `document` beside it,
# so these are looked at before any document.
_OTHER_MEDIA = ("animation", "sticker", "video", "video_note", "voice", "audio")
# What else a person sends that is not words or a picture. A message with none of these, no
# text and no picture is a service message (pinned_message, write_access_allowed, ...):
# nothing the user said, so nothing to answer.
_SENT_BY_A_PERSON = (
    *_OTHER_MEDIA,
    "photo",
    "document",
    "paid_media",
    "story",
    "contact",
    "dice",
    "game",
    "poll",
    "venue",
    "location",
)
_MEDIA_GROUP_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")  # Telegram's are long decimal numbers
# A charge id names a Firestore document (payments/<id>): no slash, no reserved "__…__" name.
_CHARGE_ID = re.compile(r"(?!__)[0-9A-Za-z_.:-]{1,256}")
PAYLOAD_MAX_CHARS = 128  # Telegram's own limit on an invoice payload (1-128 bytes)


@dataclass(frozen=True)
class PhotoSizeLimits:
    """Which of a photo's sizes to take: the largest within these (config.Settings' photo
    limits), so a size the validation step would refuse is not the one downloaded."""

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 24_000_000


def parse_update(update: Any, bot_username: str = "", photo_sizes: PhotoSizeLimits | None = None) -> Event:
    if not isinstance(update, dict):
        raise MalformedUpdate("an update is a JSON object with an integer update_id")
    update_id = _id(update, "update_id", INT64_IDS)
    if "message" in update:
        return _parse_message(
            update_id, _object(update, "message"), bot_username.lower(), photo_sizes or PhotoSizeLimits()
        )
    if "callback_query" in update:
        return _parse_callback(update_id, _object(update, "callback_query"))
    if "inline_query" in update:
        return _parse_inline_query(update_id, _object(update, "inline_query"))
    if "chosen_inline_result" in update:
        return _parse_chosen_inline(update_id, _object(update, "chosen_inline_result"))
    if "pre_checkout_query" in update:
        return _parse_pre_checkout(update_id, _object(update, "pre_checkout_query"))
    kinds = sorted(set(update) - {"update_id"})
    return Ignored(update_id, f"unhandled update kind {','.join(kinds) or 'none'}")


def _object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if not isinstance(value, dict):
        raise MalformedUpdate(f"{key} is missing or not an object")
    return value


def _optional_object(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """An optional object field; absent or null reads as empty."""
    return {} if parent.get(key) is None else _object(parent, key)


def _id(parent: dict[str, Any], key: str, allowed: range) -> int:
    value = parent.get(key)
    # bool is an int in Python, but `true` is no id.
    if type(value) is not int or value not in allowed:
        shown = str(value)[:40] if type(value) is int else type(value).__name__
        raise MalformedUpdate(f"{key} is not a Telegram id: {shown}")
    return value


def _string(parent: dict[str, Any], key: str) -> str | None:
    """An optional string field (its characters already made valid by inbound.load_json)."""
    value = parent.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedUpdate(f"{key} is not a string")
    return value


def _parse_message(update_id: int, message: dict[str, Any], bot: str, limits: PhotoSizeLimits) -> Event:
    chat = _object(message, "chat")
    chat_id = _id(chat, "id", PEER_IDS)
    message_id = _id(message, "message_id", INT64_IDS)
    sender = _optional_object(message, "from")
    language_code = _string(sender, "language_code")
    private = _string(chat, "type") == "private"
    if "successful_payment" in message:
        return _parse_payment(
            update_id, (chat_id, message_id), sender, _object(message, "successful_payment")
        )
    if "refunded_payment" in message:
        return _parse_refund(update_id, chat_id, sender, _object(message, "refunded_payment"))
    text = _string(message, "text")
    if text is None:
        file_id = _picture(message, limits)
        if file_id is not None:
            return _parse_photo(update_id, message, file_id, bot, private, (chat_id, message_id))
        if not any(kind in message for kind in _SENT_BY_A_PERSON):
            return Ignored(update_id, "a service message")
        return NotDrawable(update_id, chat_id, language_code) if private else Ignored(update_id, "not text")
    if len(text) > TEXT_MAX_CHARS:
        raise MalformedUpdate(f"a text of {len(text)} characters, over Telegram's own limit")
    if "id" not in sender:
        return Ignored(update_id, "message without a sender")
    base: dict[str, Any] = {
        "update_id": update_id,
        "chat_id": chat_id,
        "user_id": _id(sender, "id", PEER_IDS),
        "message_id": message_id,
        "language_code": language_code,
        "message_thread_id": _topic(message),
    }
    command = _COMMAND.match(text.strip())
    if command:
        name, addressee, args = command.group(1).lower(), command.group(2), (command.group(3) or "").strip()
        if addressee and bot and addressee.lower() != bot:
            return Ignored(update_id, "a command for another bot")
        if name in STYLES:
            return Prompt(**base, text=args, style=name) if args else Command(**base, name=name)
        return Command(**base, name=name, args=args, first_name=_string(sender, "first_name") or "")
    addressed = text if private else _addressed(message, text, bot)
    if addressed is None:
        return Ignored(update_id, "group text not addressed to the bot")
    return Prompt(**base, text=addressed)


def _addressed(message: dict[str, Any], text: str, bot: str) -> str | None:
    """A group message's text if it is meant for the bot (the mention taken out), else None."""
    mention = f"@{bot}" if bot else None
    if mention and mention in text.lower():
        return re.sub(re.escape(mention), " ", text, flags=re.IGNORECASE)
    replied = _optional_object(_optional_object(message, "reply_to_message"), "from")
    if bot and (_string(replied, "username") or "").lower() == bot:
        return text
    return None


def _picture(message: dict[str, Any], limits: PhotoSizeLimits) -> str | None:
    """The file id of the picture a message carries (a photo, or an image file), or None."""
    if any(kind in message for kind in _OTHER_MEDIA):
        return None
    sizes = message.get("photo")
    if isinstance(sizes, list) and sizes:
        return _largest_within(sizes, limits)
    document = _optional_object(message, "document")
    if (_string(document, "mime_type") or "").lower() in IMAGE_MIME_TYPES:
        return _file_id(document)
    return None


def _largest_within(sizes: list[Any], limits: PhotoSizeLimits) -> str:
    """The largest PhotoSize within the limits; if none is, the smallest (which the
    validation step refuses, in words, as every larger one would be)."""
    described = [size for size in sizes if isinstance(size, dict)]
    if not described:
        raise MalformedUpdate("photo holds no PhotoSize")

    def pixels(size: dict[str, Any]) -> int:
        width, height = size.get("width"), size.get("height")
        return width * height if type(width) is int and type(height) is int else 0

    def fits(size: dict[str, Any]) -> bool:
        file_size = size.get("file_size")
        too_big = type(file_size) is int and file_size > limits.max_bytes
        return not too_big and pixels(size) <= limits.max_pixels

    fitting = [size for size in described if fits(size)]
    chosen = max(fitting, key=pixels) if fitting else min(described, key=pixels)
    return _file_id(chosen)


def _file_id(described: dict[str, Any]) -> str:
    file_id = _string(described, "file_id")
    if not file_id or len(file_id) > 256:
        raise MalformedUpdate("a file without a usable file_id")
    return file_id


def _parse_photo(
    update_id: int, message: dict[str, Any], file_id: str, bot: str, private: bool, ids: tuple[int, int]
) -> Event:
    caption = _string(message, "caption") or ""
    if len(caption) > TEXT_MAX_CHARS:
        raise MalformedUpdate(f"a caption of {len(caption)} characters, over Telegram's own limit")
    sender = _optional_object(message, "from")
    if "id" not in sender:
        return Ignored(update_id, "message without a sender")
    style = None
    command = _COMMAND.match(caption.strip())
    if command and command.group(1).lower() in STYLES:  # "/pixel" or "/pixel a hint"
        if command.group(2) and bot and command.group(2).lower() != bot:
            return Ignored(update_id, "a command for another bot")
        # A command is meant for the bot in a group too, as a text one is.
        style, addressed = command.group(1).lower(), command.group(3) or ""
    else:
        found = caption if private else _addressed(message, caption, bot)
        if found is None:
            return Ignored(update_id, "group photo not addressed to the bot")
        addressed = found
    group_id = _string(message, "media_group_id")
    if group_id is not None and not _MEDIA_GROUP_ID.fullmatch(group_id):
        raise MalformedUpdate("media_group_id is not Telegram's")  # it names a Firestore document
    return Photo(
        update_id=update_id,
        chat_id=ids[0],
        user_id=_id(sender, "id", PEER_IDS),
        message_id=ids[1],
        file_id=file_id,
        caption=addressed.strip(),
        language_code=_string(sender, "language_code"),
        style=style,
        media_group_id=group_id,
        message_thread_id=_topic(message),
    )


def _parse_callback(update_id: int, query: dict[str, Any]) -> Event:
    callback = keyboards.parse(_string(query, "data") or "")
    message = _optional_object(query, "message")
    if callback is None or not message:
        return Ignored(update_id, "callback data the bot did not send")
    sender = _object(query, "from")
    query_id = _string(query, "id")
    if not query_id:
        raise MalformedUpdate("a callback query without an id")
    return Button(
        update_id=update_id,
        chat_id=_id(_object(message, "chat"), "id", PEER_IDS),
        user_id=_id(sender, "id", PEER_IDS),
        message_id=_id(message, "message_id", INT64_IDS),
        callback_query_id=query_id,
        action=callback.action,
        args=callback.args,
        language_code=_string(sender, "language_code"),
        message_thread_id=_topic(message),
    )


def _topic(message: dict[str, Any]) -> int | None:
    """The forum topic a message is in. Only a topic message's thread id is one: in a group
    without topics a reply carries the thread id of what it replies to, and sending there
    with that id would fail ("message thread not found")."""
    if message.get("is_topic_message") is not True:
        return None
    return _id(message, "message_thread_id", INT64_IDS)


def _parse_inline_query(update_id: int, query: dict[str, Any]) -> Event:
    sender = _object(query, "from")
    query_id = _string(query, "id")
    if not query_id:
        raise MalformedUpdate("an inline query without an id")
    return InlineQuery(
        update_id=update_id,
        inline_query_id=query_id,
        user_id=_id(sender, "id", PEER_IDS),
        query=_string(query, "query") or "",
        language_code=_string(sender, "language_code"),
    )


def _parse_chosen_inline(update_id: int, chosen: dict[str, Any]) -> Event:
    sender = _object(chosen, "from")
    result_id = _string(chosen, "result_id")
    if not result_id:
        raise MalformedUpdate("a chosen inline result without a result_id")
    return ChosenInline(
        update_id=update_id,
        user_id=_id(sender, "id", PEER_IDS),
        result_id=result_id,
        query=_string(chosen, "query") or "",
        inline_message_id=_string(chosen, "inline_message_id"),
        language_code=_string(sender, "language_code"),
    )


def _amount(parent: dict[str, Any]) -> int:
    value = parent.get("total_amount")
    if type(value) is not int or not 0 < value < 2**31:
        raise MalformedUpdate("total_amount is not a positive whole amount")
    return value


def _checkout_fields(parent: dict[str, Any]) -> dict[str, Any]:
    """What a pre-checkout query, a successful payment and a refunded one all carry."""
    payload = _string(parent, "invoice_payload")
    if payload is None or len(payload) > PAYLOAD_MAX_CHARS:
        raise MalformedUpdate("invoice_payload is missing or over Telegram's 128 bytes")
    currency = _string(parent, "currency")
    if not currency:
        raise MalformedUpdate("a payment without a currency")
    return {"currency": currency, "total_amount": _amount(parent), "invoice_payload": payload}


def _parse_pre_checkout(update_id: int, query: dict[str, Any]) -> Event:
    sender = _object(query, "from")
    query_id = _string(query, "id")
    if not query_id:
        raise MalformedUpdate("a pre-checkout query without an id")
    return PreCheckout(
        update_id=update_id,
        pre_checkout_query_id=query_id,
        user_id=_id(sender, "id", PEER_IDS),
        language_code=_string(sender, "language_code"),
        **_checkout_fields(query),
    )


def _parse_payment(
    update_id: int, ids: tuple[int, int], sender: dict[str, Any], paid: dict[str, Any]
) -> Event:
    return PaymentMade(
        update_id=update_id,
        chat_id=ids[0],
        user_id=_id(sender, "id", PEER_IDS),
        message_id=ids[1],
        charge_id=_charge_id(paid),
        provider_charge_id=(_string(paid, "provider_payment_charge_id") or "")[:256],
        language_code=_string(sender, "language_code"),
        **_checkout_fields(paid),
    )


def _parse_refund(update_id: int, chat_id: int, sender: dict[str, Any], refunded: dict[str, Any]) -> Event:
    """A refunded_payment service message, in the buyer's private chat (whose id is theirs)."""
    return PaymentRefunded(
        update_id=update_id,
        chat_id=chat_id,
        user_id=_id(sender, "id", PEER_IDS) if "id" in sender else chat_id,
        charge_id=_charge_id(refunded),
        language_code=_string(sender, "language_code"),
        **_checkout_fields(refunded),
    )


def _charge_id(payment: dict[str, Any]) -> str:
    charge_id = _string(payment, "telegram_payment_charge_id")
    if charge_id is None or not is_charge_id(charge_id):
        raise MalformedUpdate("telegram_payment_charge_id is missing or not Telegram's")
    return charge_id


def is_charge_id(text: str) -> bool:
    """Whether this could be a telegram_payment_charge_id (and so name a ledger document)."""
    return _CHARGE_ID.fullmatch(text) is not None


def encode_event(event: Published) -> bytes:
    # vars, not asdict: an event's fields are flat (asdict's deep copy costs the webhook more
    # than the rest of the encoding).
    return json.dumps({"v": INBOUND_VERSION, **vars(event)}, ensure_ascii=False).encode()


_KINDS: dict[str, type[Published]] = {
    "prompt": Prompt,
    "photo": Photo,
    "command": Command,
    "button": Button,
    "chosen_inline": ChosenInline,
    "payment": PaymentMade,
    "refunded": PaymentRefunded,
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
