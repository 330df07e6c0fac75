"""A typed client for the fake Bot API's `/_fake/` controls, for tests and the demo.

telegram = FakeTelegram("http://127.0.0.1:8081")
result = telegram.send_text(chat_id=42, user_id=42, text="/start")
assert result.status == 200
photo = telegram.wait_for_call("sendPhoto", lambda call: call.params["chat_id"] in (42, "42"))
png = telegram.file_bytes(photo.result["photo"][-1]["file_id"])
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import httpx


class FakeTelegramError(RuntimeError):
    """The fake refused a control request (no webhook set, no such message, a bad fault...)."""


@dataclass(frozen=True)
class RecordedCall:
    """One Bot API call the fake answered, with what it answered."""

    seq: int
    time: float
    method: str
    http_method: str
    params: dict[str, Any]
    files: list[dict[str, Any]]
    via_webhook_response: bool
    status: int
    response: dict[str, Any]

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> RecordedCall:
        return cls(**{name: record[name] for name in cls.__dataclass_fields__})

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def result(self) -> Any:
        return self.response.get("result")

    @property
    def description(self) -> str | None:
        return self.response.get("description")

    def param_json(self, name: str) -> Any:
        """A JSON parameter as an object, whether it came in a JSON body or as a form string."""
        value = self.params.get(name)
        return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True)
class WebhookResult:
    """What the bot's webhook answered to one delivered Update."""

    update_id: int
    delivered: bool
    status: int | None
    body: str
    error: str | None
    # The call the fake made for a method named in the webhook's response (reply-in-response).
    reply: RecordedCall | None

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class InlineQuerySent:
    """An inline query the user typed: its id (for the answer and a choice) and its delivery."""

    inline_query_id: str
    delivery: WebhookResult


@dataclass(frozen=True)
class ChosenInlineResult:
    """The user picked a result: the message it placed in the chat, and the update's delivery."""

    delivery: WebhookResult
    message: dict[str, Any]
    # Only when the result had a keyboard (as in Telegram): what the bot edits the message by.
    inline_message_id: str | None


@dataclass(frozen=True)
class InvoicePaid:
    """A user pressed Pay: what the bot answered, and, if it said ok, the payment Telegram made.

    `update` is the successful_payment Update as delivered: `send_update(paid.update)` redelivers
    it (same update_id), as Telegram's retry would.
    """

    pre_checkout_query_id: str
    pre_checkout: WebhookResult
    answered: bool  # within the fake's pre_checkout_timeout
    accepted: bool
    error_message: str | None  # the bot's reason for a refusal, shown to the user
    telegram_payment_charge_id: str | None
    successful_payment: WebhookResult | None
    update: dict[str, Any] | None
    message: dict[str, Any] | None


@dataclass(frozen=True)
class TelegramRefund:
    """Telegram refunded a payment by itself (its support, a dispute): the refunded_payment message
    it put in the buyer's chat, and the Update that told the bot (`send_update` redelivers it)."""

    update: dict[str, Any]
    message: dict[str, Any]
    delivery: WebhookResult


@dataclass(frozen=True)
class StarPayment:
    """One payment in the fake's Stars ledger."""

    telegram_payment_charge_id: str
    user_id: int
    chat_id: int
    amount: int
    currency: str
    invoice_payload: str
    date: int
    refunded: bool
    refund_count: int  # times the Stars went back: never more than once
    refund_refusals: int  # refunds the bot asked again, refused as CHARGE_ALREADY_REFUNDED
    refund_date: int | None


OtherMedia = Literal["animation", "video", "video_note"]


class FakeTelegram:
    def __init__(self, base_url: str, *, timeout: float = 70.0) -> None:
        # The timeout covers a whole webhook delivery, which the fake waits up to 60 s for.
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> FakeTelegram:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response = self._http.request(method, path, **kwargs)
        if not response.is_success:
            try:
                description = response.json().get("description")
            except ValueError:
                description = response.text
            raise FakeTelegramError(f"{method} {path}: {response.status_code} {description}")
        return response

    # -- the user's side ------------------------------------------------------------------------

    def send_update(
        self,
        update: dict[str, Any],
        *,
        secret: str | None = None,
        omit_secret: bool = False,
        ignore_allowed_updates: bool = False,
    ) -> WebhookResult:
        """Deliver a raw Update; `secret` replaces the webhook's secret, `omit_secret` leaves it out.

        Telegram sends only the kinds named in setWebhook's allowed_updates; `ignore_allowed_updates`
        delivers any kind anyway, to test a webhook against what it did not ask for.
        """
        return self._deliver("/_fake/updates", update, secret, omit_secret, ignore_allowed_updates)

    def send_text(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        language_code: str | None = None,
        first_name: str | None = None,
        username: str | None = None,
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
        update_id: int | None = None,
        secret: str | None = None,
        omit_secret: bool = False,
        message_thread_id: int | None = None,
    ) -> WebhookResult:
        body = _without_none(
            chat_id=chat_id,
            user_id=user_id,
            text=text,
            language_code=language_code,
            first_name=first_name,
            username=username,
            chat_type=chat_type,
            reply_to_message_id=reply_to_message_id,
            update_id=update_id,
            message_thread_id=message_thread_id,
        )
        return self._deliver("/_fake/messages", body, secret, omit_secret)

    def send_sticker(
        self,
        chat_id: int,
        user_id: int,
        *,
        chat_type: str = "private",
        update_id: int | None = None,
        secret: str | None = None,
        omit_secret: bool = False,
    ) -> WebhookResult:
        body = _without_none(
            chat_id=chat_id, user_id=user_id, sticker=True, chat_type=chat_type, update_id=update_id
        )
        return self._deliver("/_fake/messages", body, secret, omit_secret)

    def edit_message(
        self,
        chat_id: int,
        user_id: int,
        text: str,
        *,
        message_id: int | None = None,
        chat_type: str = "private",
        update_id: int | None = None,
        secret: str | None = None,
        omit_secret: bool = False,
        ignore_allowed_updates: bool = False,
    ) -> WebhookResult:
        """The user edits a message of theirs (their latest text one unless `message_id` is given).

        A bot whose allowed_updates leaves out "edited_message" never gets this from Telegram
        (`delivered` is False); `ignore_allowed_updates` delivers it anyway.
        """
        body = _without_none(
            chat_id=chat_id,
            user_id=user_id,
            text=text,
            edited=True,
            message_id=message_id,
            chat_type=chat_type,
            update_id=update_id,
        )
        return self._deliver("/_fake/messages", body, secret, omit_secret, ignore_allowed_updates)

    def press_button(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        *,
        force: bool = False,
        update_id: int | None = None,
        secret: str | None = None,
        omit_secret: bool = False,
    ) -> WebhookResult:
        """The user presses the inline button with this callback_data under a bot message."""
        body = _without_none(
            chat_id=chat_id,
            user_id=user_id,
            message_id=message_id,
            data=data,
            force=force or None,
            update_id=update_id,
        )
        return self._deliver("/_fake/callbacks", body, secret, omit_secret)

    def send_photo(
        self,
        chat_id: int,
        user_id: int,
        image: bytes,
        *,
        caption: str | None = None,
        as_document: bool = False,
        file_name: str | None = None,
        mime_type: str | None = None,
        media_group_id: str | None = None,
        reply_to_message_id: int | None = None,
        language_code: str | None = None,
        first_name: str | None = None,
        chat_type: str = "private",
        update_id: int | None = None,
        secret: str | None = None,
        omit_secret: bool = False,
        message_thread_id: int | None = None,
    ) -> WebhookResult:
        """The user sends a picture: a photo message (PhotoSize array, the largest is `image` byte for
        byte), or with `as_document` a file (file_name, mime_type). Bytes Pillow cannot open
        arrive as a document whatever `as_document` says, as the Telegram apps send them."""
        body = _without_none(
            chat_id=chat_id,
            user_id=user_id,
            photo=base64.b64encode(image).decode(),
            caption=caption,
            as_document=as_document or None,
            file_name=file_name,
            mime_type=mime_type,
            media_group_id=media_group_id,
            reply_to_message_id=reply_to_message_id,
            language_code=language_code,
            first_name=first_name,
            chat_type=chat_type,
            update_id=update_id,
            message_thread_id=message_thread_id,
        )
        return self._deliver("/_fake/messages", body, secret, omit_secret)

    def send_album(
        self,
        chat_id: int,
        user_id: int,
        images: Sequence[bytes],
        *,
        caption: str | None = None,
        media_group_id: str | None = None,
        language_code: str | None = None,
        chat_type: str = "private",
    ) -> list[WebhookResult]:
        """The user sends several photos at once: one update per photo, sharing a media_group_id;
        the caption is on the first, as the apps put it."""
        group = media_group_id or str(time.time_ns())
        return [
            self.send_photo(
                chat_id,
                user_id,
                image,
                caption=caption if index == 0 else None,
                media_group_id=group,
                language_code=language_code,
                chat_type=chat_type,
            )
            for index, image in enumerate(images)
        ]

    def send_media(
        self,
        chat_id: int,
        user_id: int,
        kind: OtherMedia,
        *,
        caption: str | None = None,
        chat_type: str = "private",
        update_id: int | None = None,
    ) -> WebhookResult:
        """The user sends an animation (GIF), a video or a video note (stand-in bytes)."""
        body = _without_none(
            chat_id=chat_id, user_id=user_id, caption=caption, chat_type=chat_type, update_id=update_id
        )
        return self._deliver("/_fake/messages", {**body, kind: True}, None, False)

    def send_inline_query(
        self,
        user_id: int,
        query: str,
        *,
        offset: str = "",
        chat_type: str | None = "private",
        language_code: str | None = None,
        first_name: str | None = None,
        update_id: int | None = None,
        ignore_allowed_updates: bool = False,
    ) -> InlineQuerySent:
        """The user types `@bot <query>`; chat_type is "sender", "private", "group", ... or None."""
        body = _without_none(
            user_id=user_id,
            query=query,
            offset=offset,
            chat_type=chat_type,
            language_code=language_code,
            first_name=first_name,
            update_id=update_id,
        )
        outcome = self._post_control("/_fake/inline_queries", body, None, False, ignore_allowed_updates)
        return InlineQuerySent(outcome["inline_query_id"], _webhook_result(outcome))

    def choose_inline_result(
        self,
        user_id: int,
        inline_query_id: str,
        result_id: str,
        *,
        chat_id: int | None = None,
        update_id: int | None = None,
        ignore_allowed_updates: bool = False,
    ) -> ChosenInlineResult:
        """The user picks an answered result; it is placed in `chat_id` (their private chat by
        default) and the bot gets `chosen_inline_result` (if it asked for it in allowed_updates)."""
        body = _without_none(
            user_id=user_id,
            inline_query_id=inline_query_id,
            result_id=result_id,
            chat_id=chat_id,
            update_id=update_id,
        )
        outcome = self._post_control(
            "/_fake/chosen_inline_results", body, None, False, ignore_allowed_updates
        )
        return ChosenInlineResult(_webhook_result(outcome), outcome["message"], outcome["inline_message_id"])

    def pay_invoice(
        self,
        chat_id: int,
        user_id: int,
        message_id: int,
        *,
        first_name: str | None = None,
        language_code: str | None = None,
        secret: str | None = None,
        ignore_allowed_updates: bool = False,
    ) -> InvoicePaid:
        """The user presses Pay under the bot's invoice `message_id`: the bot gets a
        pre_checkout_query, and if it answers ok (within the fake's pre_checkout_timeout),
        successful_payment. Returns once both are delivered, or the payment failed."""
        body = _without_none(
            chat_id=chat_id,
            user_id=user_id,
            message_id=message_id,
            first_name=first_name,
            language_code=language_code,
        )
        outcome = self._post_control("/_fake/payments", body, secret, False, ignore_allowed_updates)
        delivered = outcome["successful_payment"]
        return InvoicePaid(
            pre_checkout_query_id=outcome["pre_checkout_query_id"],
            pre_checkout=_webhook_result(outcome["pre_checkout"]),
            answered=outcome["answered"],
            accepted=outcome["accepted"],
            error_message=outcome["error_message"],
            telegram_payment_charge_id=outcome["telegram_payment_charge_id"],
            successful_payment=_webhook_result(delivered) if delivered else None,
            update=outcome["update"],
            message=outcome["message"],
        )

    def refund_by_telegram(
        self,
        telegram_payment_charge_id: str,
        *,
        secret: str | None = None,
        ignore_allowed_updates: bool = False,
    ) -> TelegramRefund:
        """Telegram refunds a payment itself, not at the bot's refundStarPayment: the ledger marks it
        and the bot gets the refunded_payment message. An unknown charge is a 404, one refunded
        already (by either) a 409, both raised as FakeTelegramError."""
        outcome = self._post_control(
            "/_fake/star_payments/refund",
            {"telegram_payment_charge_id": telegram_payment_charge_id},
            secret,
            False,
            ignore_allowed_updates,
        )
        return TelegramRefund(outcome["update"], outcome["message"], _webhook_result(outcome["delivery"]))

    def _deliver(
        self,
        path: str,
        body: dict[str, Any],
        secret: str | None,
        omit_secret: bool,
        ignore_allowed_updates: bool = False,
    ) -> WebhookResult:
        return _webhook_result(self._post_control(path, body, secret, omit_secret, ignore_allowed_updates))

    def _post_control(
        self,
        path: str,
        body: dict[str, Any],
        secret: str | None,
        omit_secret: bool,
        ignore_allowed_updates: bool,
    ) -> dict[str, Any]:
        params = _without_none(
            secret=secret,
            omit_secret="1" if omit_secret else None,
            ignore_allowed_updates="1" if ignore_allowed_updates else None,
        )
        outcome: dict[str, Any] = self._request("POST", path, json=body, params=params).json()
        return outcome

    # -- what the bot did -----------------------------------------------------------------------

    def inline_answer(self, inline_query_id: str) -> list[dict[str, Any]] | None:
        """The results the bot answered the query with (as accepted), or None while unanswered."""
        answer = self._request("GET", f"/_fake/inline_queries/{inline_query_id}").json()
        return answer["results"] if answer["answered"] else None

    def wait_for_inline_answer(self, inline_query_id: str, *, timeout: float = 30.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while (results := self.inline_answer(inline_query_id)) is None:
            if time.monotonic() >= deadline:
                calls = [(c.status, c.description) for c in self.calls("answerInlineQuery")]
                raise TimeoutError(
                    f"inline query {inline_query_id} unanswered within {timeout:.1f}s; {calls}"
                )
            time.sleep(0.05)
        return results

    def invoices(self, chat_id: int | None = None, since: int = 0) -> list[dict[str, Any]]:
        """The invoice messages the bot sent (successful sendInvoice calls), oldest first."""
        return [
            call.result
            for call in self.calls("sendInvoice", since)
            if call.ok and (chat_id is None or str(call.params.get("chat_id")) == str(chat_id))
        ]

    def wait_for_invoice(self, chat_id: int, *, since: int = 0, timeout: float = 30.0) -> dict[str, Any]:
        """The first invoice message sent to `chat_id` after `since`."""
        call = self.wait_for_call(
            "sendInvoice",
            lambda c: c.ok and str(c.params.get("chat_id")) == str(chat_id),
            since=since,
            timeout=timeout,
        )
        result: dict[str, Any] = call.result
        return result

    def star_payments(self) -> list[StarPayment]:
        """The fake's Stars ledger, oldest payment first: a test asserts no Stars went back twice."""
        payments = self._request("GET", "/_fake/star_payments").json()["payments"]
        return [StarPayment(**payment) for payment in payments]

    def star_payment(self, telegram_payment_charge_id: str) -> StarPayment:
        found = [
            p for p in self.star_payments() if p.telegram_payment_charge_id == telegram_payment_charge_id
        ]
        if not found:
            raise FakeTelegramError(f"no Stars payment {telegram_payment_charge_id}")
        return found[0]

    def albums(self, chat_id: int | None = None, since: int = 0) -> list[list[dict[str, Any]]]:
        """The messages of each album the bot sent (successful sendMediaGroup calls), oldest first."""
        return [
            call.result
            for call in self.calls("sendMediaGroup", since)
            if call.ok and (chat_id is None or str(call.params.get("chat_id")) == str(chat_id))
        ]

    def wait_for_album(self, chat_id: int, *, since: int = 0, timeout: float = 30.0) -> list[dict[str, Any]]:
        """The messages of the first album sent to `chat_id` after `since`."""
        call = self.wait_for_call(
            "sendMediaGroup",
            lambda c: c.ok and str(c.params.get("chat_id")) == str(chat_id),
            since=since,
            timeout=timeout,
        )
        result: list[dict[str, Any]] = call.result
        return result

    def media_edits(self, since: int = 0) -> list[RecordedCall]:
        """Successful editMessageMedia calls, oldest first (`param_json("media")` is what was sent)."""
        return [call for call in self.calls("editMessageMedia", since) if call.ok]

    def wait_for_media_edit(
        self,
        *,
        chat_id: int | None = None,
        message_id: int | None = None,
        inline_message_id: str | None = None,
        since: int = 0,
        timeout: float = 30.0,
    ) -> RecordedCall:
        """The first successful editMessageMedia of that message (by chat and id, or inline id)."""

        def matches(call: RecordedCall) -> bool:
            wanted = _without_none(
                chat_id=chat_id, message_id=message_id, inline_message_id=inline_message_id
            )
            return call.ok and all(str(call.params.get(k)) == str(v) for k, v in wanted.items())

        return self.wait_for_call("editMessageMedia", matches, since=since, timeout=timeout)

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """A message as it is now (after any edits), or None if it is not (or no longer) there."""
        messages = self.chat(chat_id)["messages"]
        return next((m for m in messages if m["message_id"] == message_id), None)

    def calls(self, method: str | None = None, since: int = 0) -> list[RecordedCall]:
        params = _without_none(method=method, since=str(since))
        records = self._request("GET", "/_fake/calls", params=params).json()["calls"]
        return [RecordedCall.from_json(record) for record in records]

    def in_flight(self, method: str | None = None) -> list[dict[str, Any]]:
        """Calls the fake is answering right now ({"method", "params", "time"}): sent by the bot,
        not yet answered (a fault's delay holds them), so not yet in `calls()`."""
        calls = self._request("GET", "/_fake/in_flight").json()["calls"]
        return [call for call in calls if method is None or call["method"].lower() == method.lower()]

    def last_seq(self) -> int:
        """The sequence number of the latest call: pass it as `since` to see only what follows."""
        calls = self.calls()
        return calls[-1].seq if calls else 0

    def wait_for_call(
        self,
        method: str,
        predicate: Callable[[RecordedCall], bool] | None = None,
        *,
        since: int = 0,
        timeout: float = 30.0,
        interval: float = 0.05,
    ) -> RecordedCall:
        """The first call of `method` after `since` that satisfies `predicate`; polls until `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            for call in self.calls(method, since):
                if predicate is None or predicate(call):
                    return call
            if time.monotonic() >= deadline:
                seen = [(call.seq, call.status, call.description) for call in self.calls(method, since)]
                raise TimeoutError(f"no matching {method} call within {timeout:.1f}s; seen: {seen}")
            time.sleep(interval)

    def file_bytes(self, file_id: str) -> bytes:
        return self._request("GET", f"/_fake/files/{file_id}").content

    def chat(self, chat_id: int) -> dict[str, Any]:
        """{"chat", "version", "messages" (as they are now), "transcript" (everything that happened)}."""
        return self._request("GET", f"/_fake/chats/{chat_id}").json()

    def webhook(self) -> dict[str, Any]:
        return self._request("GET", "/_fake/webhook").json()["webhook"]

    # -- steering the fake ----------------------------------------------------------------------

    def inject_fault(
        self,
        method: str,
        *,
        count: int = 1,
        error_code: int | None = 429,
        retry_after: int | None = None,
        description: str | None = None,
        delay: float = 0.0,
        seconds: float | None = None,
    ) -> dict[str, int]:
        """The next `count` calls of `method` fail so (429 gets `retry_after`, 1 s unless given),
        or, with `seconds`, every call from now until that many seconds have passed."""
        body = _without_none(
            method=method,
            count=count,
            seconds=seconds,
            error_code=error_code,
            retry_after=retry_after,
            description=description,
            delay=delay,
        )
        return self._request("POST", "/_fake/faults", json=body).json()["pending"]

    def clear_faults(self) -> None:
        self._request("DELETE", "/_fake/faults")

    def reset(self) -> None:
        """Forget calls, chats, files, payments and faults; the webhook and commands stay, update
        ids go on."""
        self._request("POST", "/_fake/reset")

    def healthy(self) -> bool:
        try:
            return self._http.get("/_fake/health").is_success
        except httpx.TransportError:
            return False


def _webhook_result(outcome: dict[str, Any]) -> WebhookResult:
    reply = outcome.get("reply")
    return WebhookResult(
        update_id=outcome["update_id"],
        delivered=outcome["delivered"],
        status=outcome["status"],
        body=outcome["body"],
        error=outcome["error"],
        reply=RecordedCall.from_json(reply) if reply else None,
    )


def _without_none(**values: Any) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}
