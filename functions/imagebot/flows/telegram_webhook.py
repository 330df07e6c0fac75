"""The Telegram webhook: verify, parse, publish, answer.

It answers only after the publish is confirmed, and in milliseconds: prompts never touch
Firestore here. /start and /help are answered in the webhook response itself (Telegram's
reply-in-response), after one read of the user's settings (language, default style); so are
inline queries (answerInlineQuery, after a few document reads: chat/inline.py), which
Telegram lets expire within seconds. A press on a requester-only button in a group is checked
against the job's user first (one read): anyone else gets a short toast, and nothing is
published (in a private chat, the one who can press is the requester). A pre-checkout query
(Telegram Stars) is answered in the response too, after a read of the operating mode: no sales
while paused (core/checkout.py).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from google.cloud import pubsub_v1

from imagebot.config import Settings
from imagebot.core import checkout, inbound, keyboards, quota, registry, texts
from imagebot.core import inline as inline_results
from imagebot.core.answer_to import AnswerTo
from imagebot.core.ops import Mode
from imagebot.core.registry import AnsweredBy
from imagebot.core.updates import (
    Button,
    ChosenInline,
    Command,
    Event,
    Ignored,
    InlineQuery,
    MalformedUpdate,
    NotDrawable,
    PaymentMade,
    PaymentRefunded,
    Photo,
    PhotoSizeLimits,
    PreCheckout,
    Prompt,
    encode_event,
    parse_update,
)
from imagebot.core.vocabulary import STYLES
from imagebot.edges.pubsub import PendingPublishes, Publisher
from imagebot.logs import fields

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
log = logging.getLogger(__name__)
# The user's settings document (UserStore.get_user): read for /start and /help only; on the
# event loop, awaited (UserReadsOnLoop.get_user: batched reads in a worker thread).
ReadUser = Callable[[int], Mapping[str, Any]]
ReadUserOnLoop = Callable[[int], Awaitable[Mapping[str, Any]]]
# A slow read must not cost the answer: past this, /start is answered in the app's language.
USER_READ_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Asker:
    """Who a command answered here comes from, as far as the answer needs: the language to
    answer in, the default style chosen (ticked under /start)."""

    language: str
    default_style: str | None = None


class Lookups(Protocol):
    """The reads the webhook makes beyond a user's language (chat/lookups.WebhookLookups)."""

    def requester_of(self, job_id: str) -> int | None: ...
    def inline_answer(self, query: InlineQuery) -> dict[str, Any]: ...
    def operating_mode(self) -> Mode: ...


@dataclass(frozen=True)
class WebhookReply:
    """An HTTP answer; a body with a "method" is a Bot API call Telegram makes for us."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    # False when the request's body was refused unread (or read only up to the limit): what is
    # left must stay unread, so the entry point must not let its framework drain it.
    body_read: bool = True


def secret_matches(given: str | None, expected: str) -> bool:
    """Never true without a configured secret: an empty one would let anyone in."""
    return bool(expected) and given is not None and hmac.compare_digest(given.encode(), expected.encode())


def handle_request(
    read: Callable[[int], bytes],
    content_length: int | None,
    secret: str | None,
    settings: Settings,
    publisher: Publisher,
    read_user: ReadUser,
    lookups: Lookups | None = None,
) -> WebhookReply:
    """An HTTP request whose body is still unread: a declared size over the limit is refused
    first, then a wrong secret, both without reading the body; then the body is read, never
    more than inbound.MAX_BODY_BYTES of it."""
    if inbound.declared_too_large(content_length):
        return too_large(f"Content-Length {content_length}")
    if not secret_matches(secret, settings.webhook_secret):
        return replace(unauthorized(), body_read=False)
    try:
        raw = inbound.read_bounded(read)
    except inbound.BodyTooLarge as error:
        return too_large(str(error))
    return handle_update(raw, settings, publisher, read_user, lookups)


def handle_webhook(
    raw: bytes,
    secret: str | None,
    settings: Settings,
    publisher: Publisher,
    read_user: ReadUser,
    lookups: Lookups | None = None,
) -> WebhookReply:
    """A request whose body is already read (and bounded: see inbound.BoundedBody)."""
    if not secret_matches(secret, settings.webhook_secret):
        return unauthorized()
    return handle_update(raw, settings, publisher, read_user, lookups)


def unauthorized() -> WebhookReply:
    log.warning("webhook call with a wrong or missing secret token", extra=fields(stage="webhook"))
    return WebhookReply(401, {"error": "unauthorized"})


def too_large(why: str) -> WebhookReply:
    log.warning("webhook body over the limit", extra=fields(stage="webhook", error=why))
    return WebhookReply(413, {"error": f"body over {inbound.MAX_BODY_BYTES} bytes"}, body_read=False)


def handle_update(
    raw: bytes,
    settings: Settings,
    publisher: Publisher,
    read_user: ReadUser,
    lookups: Lookups | None = None,
) -> WebhookReply:
    """A body from Telegram (the secret matched): a 400 for anything no update can be, else
    the event's answer."""
    event = parse_body(raw, settings)
    if isinstance(event, WebhookReply):
        return event
    return answer_event(event, settings, publisher, read_user, lookups)


def parse_body(raw: bytes, settings: Settings) -> Event | WebhookReply:
    """The update's event, or the 400 for a body no update can be."""
    try:
        return parse_update(inbound.load_json(raw), settings.bot_username, photo_size_limits(settings))
    except (inbound.MalformedBody, MalformedUpdate) as error:
        log.warning("malformed update", extra=fields(stage="webhook", error=str(error)[:200]))
        return WebhookReply(400, {"error": "malformed update"})


def answer_event(
    event: Event,
    settings: Settings,
    publisher: Publisher,
    read_user: ReadUser,
    lookups: Lookups | None = None,
) -> WebhookReply:
    match event:
        case Ignored():
            log.info(
                "update ignored",
                extra=fields(stage="webhook", update_id=event.update_id, reason=event.reason),
            )
            return WebhookReply(200)
        case NotDrawable():
            text = texts.render(texts.language_for(event.language_code), "photos_or_text")
            return WebhookReply(200, send_message(AnswerTo(event.chat_id), text))
        case Command() if not needs_worker(event, settings):
            return WebhookReply(200, command_reply(event, settings, read_user))
        case InlineQuery():
            return WebhookReply(200, inline_reply(event, settings, lookups))
        case PreCheckout():
            return WebhookReply(200, pre_checkout_reply(event, lookups))
        case Button() if not pressed_by_requester(event, lookups):
            text = texts.render(texts.language_for(event.language_code), "answer_not_yours")
            return WebhookReply(200, answer_callback(event.callback_query_id, text))
        case Prompt() | Photo() | Command() | Button() | ChosenInline() | PaymentMade() | PaymentRefunded():
            publisher.publish(
                settings.prompts_topic, encode_event(event), update_id=str(event.update_id), kind=event.kind
            )
            # DEBUG: an INFO line here for each update was a twentieth of the front door's CPU;
            # the worker's first line ("update taken") says the same, off the hot path.
            log.debug(
                "update published",
                extra=fields(stage="webhook", update_id=event.update_id, reason=event.kind),
            )
            if isinstance(event, Button):
                answer = button_answer(event, texts.language_for(event.language_code))
                return WebhookReply(200, answer_callback(event.callback_query_id, answer))
            return WebhookReply(200)


def reads_documents(event: Event) -> bool:
    """Whether answering `event` makes a blocking read through Lookups first: an inline
    query's, a pre-checkout query's (the operating mode), or a press someone else may have made
    (whose job is it?)."""
    match event:
        case InlineQuery() | PreCheckout():
            return True
        case Button():
            return requester_check_needed(event)
    return False


def answer_callback(callback_query_id: str, text: str) -> dict[str, Any]:
    return {"method": "answerCallbackQuery", "callback_query_id": callback_query_id, "text": text}


def pressed_by_requester(button: Button, lookups: Lookups | None) -> bool:
    """False only for a requester-only button pressed by someone else (in a group, say). A job
    that is gone, or a read that fails, goes on to the worker, which checks again."""
    if lookups is None or not requester_check_needed(button):
        return True
    try:
        requester = lookups.requester_of(button.args[-1])
    except Exception:
        log.warning("requester lookup failed", exc_info=True, extra=fields(update_id=button.update_id))
        return True
    return requester is None or requester == button.user_id


def requester_check_needed(button: Button) -> bool:
    """A requester-only button pressed outside a private chat. In a private chat with the bot
    its one user is the only one who can press, and the requester of every job there: no read
    (most presses are these)."""
    declared = registry.action(button.action)
    return declared is not None and declared.requester_only and button.chat_id != button.user_id


def inline_reply(query: InlineQuery, settings: Settings, lookups: Lookups | None) -> dict[str, Any]:
    """answerInlineQuery as the webhook's reply. Without the reads (they failed, or none are
    wired) the draw results alone, in the app's language: an answer in time beats a full one."""
    if lookups is not None:
        try:
            return lookups.inline_answer(query)
        except Exception:
            log.warning(
                "inline answer without pictures", exc_info=True, extra=fields(update_id=query.update_id)
            )
    language = texts.language_for(query.language_code)
    drawable = inline_results.drawable(query.query, settings.prompt_min_chars, settings.prompt_max_chars)
    return inline_results.answer(query.inline_query_id, query.query if drawable else None, language, [])


def pre_checkout_reply(query: PreCheckout, lookups: Lookups | None) -> dict[str, Any]:
    """answerPreCheckoutQuery as the webhook's reply (Telegram waits 10 s for it). Sales stop
    while paused; a mode that cannot be read refuses with "try again" rather than sell blind."""
    try:
        mode = None if lookups is None else lookups.operating_mode()
    except Exception:
        log.warning("operating mode lookup failed", exc_info=True, extra=fields(update_id=query.update_id))
        mode = None
    refusal = checkout.checkout_refusal(query, mode)
    log.info(
        "pre-checkout answered",
        extra=fields(stage="payment", update_id=query.update_id, reason=f"checkout_{refusal or 'ok'}"),
    )
    return checkout.checkout_answer(query, refusal)


def photo_size_limits(settings: Settings) -> PhotoSizeLimits:
    """Which size of a photo to take: the largest the validation step would download and decode."""
    return PhotoSizeLimits(max_bytes=settings.photo_max_bytes, max_pixels=settings.photo_max_pixels)


def needs_worker(command: Command, settings: Settings) -> bool:
    """Commands that read or change state go on to the worker; the rest are answered here. An
    operator command from anyone else is unknown to them."""
    declared = registry.command(command.name)
    if declared is None or declared.answered_by is not AnsweredBy.WORKER:
        return False
    return not declared.operator_only or command.user_id in settings.operator_ids


def command_reply(command: Command, settings: Settings, read_user: ReadUser) -> dict[str, Any]:
    asker = asker_of(command, read_user)
    declared = registry.command(command.name)
    if declared is None or declared.answered_by is not AnsweredBy.WEBHOOK:
        return send_message(AnswerTo.of_event(command), texts.render(asker.language, "unknown_command"))
    reply: dict[str, Any] = registry.handler(declared.handler)(command, settings, asker)
    return reply


def start_reply(command: Command, settings: Settings, asker: Asker) -> dict[str, Any]:
    language = asker.language
    name = command.first_name or texts.render(language, "friend")
    key = "start_with_default" if asker.default_style else "start"
    reply = send_message(AnswerTo.of_event(command), texts.render(language, key, name=name))
    reply["reply_markup"] = {"inline_keyboard": [keyboards.default_styles(asker.default_style)]}
    return reply


def help_reply(command: Command, settings: Settings, asker: Asker) -> dict[str, Any]:
    text = texts.render(asker.language, "help", min=settings.prompt_min_chars, max=settings.prompt_max_chars)
    text += texts.render(asker.language, "help_more", grid_cost=quota.GRID_COST, set_cost=quota.SET_COST)
    return send_message(AnswerTo.of_event(command), text)


def paysupport_reply(command: Command, settings: Settings, asker: Asker) -> dict[str, Any]:
    """/paysupport (Telegram requires it of bots that sell): refunds, and how to reach the operators."""
    contact = f": {settings.support_contact}" if settings.support_contact else ""
    text = texts.render(asker.language, "paysupport", days=checkout.window_days(), contact=contact)
    return send_message(AnswerTo.of_event(command), text)


def terms_reply(command: Command, settings: Settings, asker: Asker) -> dict[str, Any]:
    """/terms: the terms of sale (Telegram requires them of bots that sell)."""
    return send_message(
        AnswerTo.of_event(command), texts.render(asker.language, "terms", days=checkout.window_days())
    )


def shortcut_usage(command: Command, settings: Settings, asker: Asker) -> dict[str, Any]:
    """/pixel without a prompt: how to use it (with one, it is a Prompt)."""
    text = texts.render(asker.language, "shortcut_usage", command=command.name)
    return send_message(AnswerTo.of_event(command), text)


def asker_of(command: Command, read_user: ReadUser) -> Asker:
    """The user's language (texts.user_language: their choice, else their app's) and default
    style, from one read; a slow or failing read must not cost the answer itself."""
    try:
        user = read_user(command.user_id)
    except Exception:
        log.warning("user settings lookup failed", exc_info=True)
        user = {}
    chosen, style = user.get("language"), user.get("default_style")
    return Asker(
        texts.user_language(chosen if isinstance(chosen, str) else None, command.language_code),
        style if style in STYLES else None,
    )


def button_answer(button: Button, language: str) -> str:
    """The toast shown at once when a button is pressed."""
    declared = registry.action(button.action)
    return "" if declared is None else declared.toast(language, button.args)


def send_message(to: AnswerTo, text: str) -> dict[str, Any]:
    """A sendMessage made by Telegram for us, as the answer to the request."""
    return {"method": "sendMessage", **to.params(), "text": text, "parse_mode": "HTML"}


# --- on an event loop (functions_framework.aio: Starlette under uvicorn) ----------------------
# The same work by the same code: the secret is checked in constant time, the body parsed and
# the event answered by `answer_event`, which starts the publish; here the publish is not waited
# for in a thread but awaited on the loop, and the answer goes out only once Pub/Sub has
# confirmed every message (nothing may run after the response in Cloud Functions). One event
# loop serves every connection Telegram opens, so no request holds a thread while its publish is
# in flight. /start and /help await their user's settings (read with others' in one batch, off
# the loop: UserReadsOnLoop); the few events answered after a blocking read (`reads_documents`:
# inline queries, presses in groups) are answered in a worker thread, so the loop never waits.


async def handle_request_async(
    chunks: AsyncIterator[bytes],
    content_length: str | None,
    secret: str | None,
    settings: Settings,
    client: pubsub_v1.PublisherClient,
    read_user: ReadUserOnLoop,
    lookups: Lookups | None = None,
) -> WebhookReply:
    """`handle_request` on the event loop: the same refusals in the same order (a declared size
    over the limit, then a wrong secret, both before any of the body is read), then the body,
    read no further than one chunk past the limit."""
    declared = int(content_length) if content_length and content_length.isdigit() else None
    if inbound.declared_too_large(declared):
        return too_large(f"Content-Length {content_length}")
    if not secret_matches(secret, settings.webhook_secret):
        return replace(unauthorized(), body_read=False)
    body = inbound.BoundedBody()
    try:
        async for chunk in chunks:
            body.add(chunk)
    except inbound.BodyTooLarge as error:
        return too_large(str(error))
    return await answer_async(body.value(), settings, client, read_user, lookups)


async def handle_webhook_async(
    raw: bytes,
    secret: str | None,
    settings: Settings,
    client: pubsub_v1.PublisherClient,
    read_user: ReadUserOnLoop,
    lookups: Lookups | None = None,
) -> WebhookReply:
    """`handle_webhook`'s answer, given only after its publish (if any) is confirmed."""
    if not secret_matches(secret, settings.webhook_secret):
        return unauthorized()
    return await answer_async(raw, settings, client, read_user, lookups)


async def answer_async(
    raw: bytes,
    settings: Settings,
    client: pubsub_v1.PublisherClient,
    read_user: ReadUserOnLoop,
    lookups: Lookups | None = None,
) -> WebhookReply:
    """A body whose secret matched, answered once its publish is confirmed; a failed or late
    publish raises, and the framework answers 500, so Telegram sends the update again."""
    event = parse_body(raw, settings)
    if isinstance(event, WebhookReply):
        return event
    user: Mapping[str, Any] = {}
    if isinstance(event, Command) and not needs_worker(event, settings):  # answered here: /start
        user = await user_settings(event.user_id, read_user)
    publishes = PendingPublishes(client, settings.project)
    if reads_documents(event):
        reply = await asyncio.to_thread(answer_event, event, settings, publishes, lambda _: user, lookups)
    else:
        reply = answer_event(event, settings, publishes, lambda _: user, lookups)
    await publishes.confirmed()
    return reply


async def user_settings(user_id: int, read_user: ReadUserOnLoop) -> Mapping[str, Any]:
    """The user's settings, or none when the read fails or is slow (asker_of's defaults)."""
    try:
        async with asyncio.timeout(USER_READ_TIMEOUT_SECONDS):
            return await read_user(user_id)
    except Exception:
        log.warning("user settings lookup failed", exc_info=True)
        return {}
