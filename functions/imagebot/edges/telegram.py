"""A small Telegram Bot API client over httpx: timeouts on every call, 429s honoured.

The token is part of every URL, so httpx's own request logging is kept below INFO, and no
error this module raises carries a URL: a file download's says the file's path, never more.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from imagebot.core.answer_to import AnswerTo
from imagebot.core.pacing import PacingBacklog
from imagebot.core.payments import CURRENCY

logging.getLogger("httpx").setLevel(logging.WARNING)
log = logging.getLogger(__name__)


# getFile serves files up to 20 MB (Bot API docs, getFile); a bigger one has no file_path.
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
DOWNLOAD = "downloadFile"  # TelegramError.method of a download (not a Bot API method: a GET of a file)


@dataclass
class TelegramError(Exception):
    method: str
    error_code: int
    description: str
    retry_after: int | None = None

    def __str__(self) -> str:
        return f"{self.method}: {self.error_code} {self.description}"

    @property
    def transient(self) -> bool:
        """Worth retrying later: rate limits and server errors, not our own mistakes."""
        return self.error_code == 429 or self.error_code >= 500

    @property
    def not_before(self) -> float | None:
        """Seconds Telegram asked us to wait before trying again (a 429's retry_after); a
        retry sooner than that is refused again, so whoever retries must wait at least this."""
        if self.error_code != 429:
            return None
        return float(self.retry_after) if self.retry_after is not None else 1.0

    @property
    def user_unreachable(self) -> bool:
        """The user blocked the bot or the chat is gone: retrying will never help."""
        return self.error_code == 403 or (
            self.error_code == 400 and "chat not found" in self.description.lower()
        )

    @property
    def already_refunded(self) -> bool:
        """refundStarPayment's answer for a charge refunded before (by an earlier try whose
        answer was lost, say): the refund is done, not failed."""
        return self.error_code == 400 and "CHARGE_ALREADY_REFUNDED" in self.description.upper()


class FileTooBig(TelegramError):
    """The file is bigger than the caller takes (or than getFile serves): never worth a retry."""


class BotApi:
    def __init__(
        self,
        token: str,
        base_url: str = "https://api.telegram.org",
        *,
        timeout: float = 15.0,
        max_retry_after: float = 30.0,
        client: httpx.Client | None = None,
        pace: Callable[[str, int | None], float] | None = None,
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/bot{token}/"
        # Files are served under their own root: <base>/file/bot<token>/<file_path>.
        self._file_url = f"{base_url.rstrip('/')}/file/bot{token}/"
        self._timeout = timeout
        self._client = client or httpx.Client(timeout=timeout)
        self._max_retry_after = max_retry_after
        # Called before every call (pacing.Pacer): it waits until Telegram's limits allow it.
        self._pace = pace

    def call(self, method: str, params: dict[str, Any], files: dict[str, Any] | None = None) -> Any:
        """Call a method; a 429 whose retry_after fits `max_retry_after` is waited out once.

        A longer one (or a second 429) is raised as it came, a transient TelegramError with its
        `retry_after` (`not_before`): the caller tries again no sooner than that, later."""
        try:
            return self._call_once(method, params, files)
        except TelegramError as error:
            wait = error.not_before
            if wait is None or wait > self._max_retry_after:
                raise
            log.warning("telegram rate limit on %s, waiting %ss", method, wait)
            time.sleep(wait)
            return self._call_once(method, params, files)

    def _call_once(self, method: str, params: dict[str, Any], files: dict[str, Any] | None) -> Any:
        payload = {key: value for key, value in params.items() if value is not None}
        if self._pace is not None:
            chat_id = payload.get("chat_id")
            try:
                self._pace(method, chat_id if isinstance(chat_id, int) else None)
            except PacingBacklog as backlog:
                # Our own limit, answered the way Telegram answers its own: a 429 to wait out.
                raise TelegramError(method, 429, str(backlog), math.ceil(backlog.seconds)) from None
        try:
            if files:
                # Multipart fields are strings: nested objects travel as JSON, as the Bot API expects.
                form = {
                    k: json.dumps(v) if isinstance(v, dict | list) else str(v) for k, v in payload.items()
                }
                response = self._client.post(self._url + method, data=form, files=files)
            else:
                response = self._client.post(self._url + method, json=payload)
        except httpx.TransportError as error:
            raise TelegramError(method, 599, f"transport error: {type(error).__name__}") from None
        try:
            body = response.json()
        except ValueError:
            raise TelegramError(method, response.status_code, "response is not JSON") from None
        if not body.get("ok"):
            retry_after = (body.get("parameters") or {}).get("retry_after")
            raise TelegramError(
                method,
                int(body.get("error_code", response.status_code)),
                str(body.get("description", "")),
                retry_after,
            )
        return body["result"]

    def send_message(
        self, to: AnswerTo, text: str, *, reply_markup: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return self.call(
            "sendMessage",
            {**to.params(), "text": text, "parse_mode": "HTML", "reply_markup": reply_markup},
        )

    def edit_message_text(
        self, chat_id: int, message_id: int, text: str, *, reply_markup: dict[str, Any] | None = None
    ) -> Any:
        return self.call(
            "editMessageText",
            {
                "chat_id": chat_id,
                "message_id": message_id,
                "text": text,
                "parse_mode": "HTML",
                "reply_markup": reply_markup,
            },
        )

    def edit_message_caption(
        self, chat_id: int, message_id: int, caption: str, *, reply_markup: dict[str, Any] | None = None
    ) -> Any:
        return self.call(
            "editMessageCaption",
            {
                "chat_id": chat_id,
                "message_id": message_id,
                "caption": caption,
                "parse_mode": "HTML",
                "reply_markup": reply_markup,
            },
        )

    def edit_inline_text(
        self, inline_message_id: str, text: str, *, reply_markup: dict[str, Any] | None = None
    ) -> Any:
        """A message placed by inline mode (chat/inline.py): known by its id alone."""
        return self.call(
            "editMessageText",
            {
                "inline_message_id": inline_message_id,
                "text": text,
                "parse_mode": "HTML",
                "reply_markup": reply_markup,
            },
        )

    def edit_inline_photo(
        self,
        inline_message_id: str,
        file_id: str,
        *,
        caption: str,
        reply_markup: dict[str, Any] | None = None,
    ) -> Any:
        """An inline message becomes a photo (its text placeholder gets media). By file id only:
        Telegram takes no new upload for an inline message, only a file_id or an HTTP URL."""
        media = {"type": "photo", "media": file_id, "caption": caption, "parse_mode": "HTML"}
        return self.call(
            "editMessageMedia",
            {"inline_message_id": inline_message_id, "media": media, "reply_markup": reply_markup},
        )

    def delete_message(self, chat_id: int, message_id: int) -> Any:
        return self.call("deleteMessage", {"chat_id": chat_id, "message_id": message_id})

    def send_photo(
        self,
        to: AnswerTo,
        photo: tuple[str, bytes, str] | str,
        *,
        caption: str,
        reply_markup: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """`photo` is an upload (filename, bytes, content type) or a file id Telegram holds."""
        params = {**to.params(), "caption": caption, "parse_mode": "HTML", "reply_markup": reply_markup}
        if isinstance(photo, str):
            return self.call("sendPhoto", {**params, "photo": photo})
        return self.call("sendPhoto", params, files={"photo": photo})

    def send_media_group(
        self, to: AnswerTo, photos: list[tuple[str, bytes, str, str]]
    ) -> list[dict[str, Any]]:
        """An album of 2-10 uploaded photos, each (filename, bytes, content type, caption), in
        one call; its messages, in order. Albums carry no buttons (Telegram's rule)."""
        media = [
            {"type": "photo", "media": f"attach://photo{n}", "caption": caption, "parse_mode": "HTML"}
            for n, (_, _, _, caption) in enumerate(photos)
        ]
        files = {f"photo{n}": (name, data, kind) for n, (name, data, kind, _) in enumerate(photos)}
        sent: list[dict[str, Any]] = self.call("sendMediaGroup", {**to.params(), "media": media}, files=files)
        return sent

    def send_document(self, to: AnswerTo, data: bytes, *, filename: str) -> dict[str, Any]:
        return self.call(
            "sendDocument", to.params(), files={"document": (filename, data, "application/octet-stream")}
        )

    def send_chat_action(self, to: AnswerTo, action: str) -> Any:
        return self.call("sendChatAction", {**to.params(quote=False), "action": action})

    def send_invoice(
        self, to: AnswerTo, *, title: str, description: str, payload: str, stars: int
    ) -> dict[str, Any]:
        """An invoice in Telegram Stars: currency XTR, an empty provider token, one price in
        whole stars (Telegram's rules for digital goods)."""
        return self.call(
            "sendInvoice",
            {
                **to.params(quote=False),
                "title": title,
                "description": description,
                "payload": payload,
                "provider_token": "",
                "currency": CURRENCY,
                "prices": [{"label": title, "amount": stars}],
            },
        )

    def refund_star_payment(self, user_id: int, charge_id: str) -> Any:
        """The Stars of a payment back to its user, all of them (Telegram takes no amount).
        A charge refunded before raises a TelegramError whose `already_refunded` is true."""
        return self.call("refundStarPayment", {"user_id": user_id, "telegram_payment_charge_id": charge_id})

    def get_file(self, file_id: str) -> dict[str, Any]:
        """The File object (file_id, file_unique_id, file_size, file_path) a download needs.

        A file over getFile's 20 MB is FileTooBig; other errors are TelegramErrors as any call's."""
        try:
            result: dict[str, Any] = self.call("getFile", {"file_id": file_id})
        except TelegramError as error:
            if error.error_code == 400 and "too big" in error.description.lower():
                raise FileTooBig(error.method, error.error_code, error.description) from None
            raise
        return result

    def download_file(self, file_path: str, max_bytes: int = MAX_DOWNLOAD_BYTES) -> bytes:
        """A file's bytes by the path getFile gave, streamed and cut off past `max_bytes`.

        Errors are TelegramErrors naming the path only (the URL holds the token): 5xx and
        transport failures are transient, as for any call; a bigger file is FileTooBig."""
        outcome = self._download(file_path, max_bytes)
        if isinstance(outcome, bytes):
            return outcome
        # Raised here, outside any `except`, so that no httpx error (whose message and request
        # name the URL) rides along as the context of ours.
        raise outcome

    def _download(self, file_path: str, max_bytes: int) -> bytes | TelegramError:
        def too_big(size: str) -> FileTooBig:
            return FileTooBig(DOWNLOAD, 413, f"{file_path}: {size}, over the {max_bytes} bytes taken")

        deadline = time.monotonic() + 4 * self._timeout  # a trickle must not hold the function
        try:
            with self._client.stream("GET", self._file_url + file_path) as response:
                if response.status_code != 200:
                    return TelegramError(
                        DOWNLOAD, response.status_code, f"{file_path}: HTTP {response.status_code}"
                    )
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    return too_big(f"{declared} bytes")
                received = bytearray()
                for chunk in response.iter_bytes():
                    received += chunk
                    if len(received) > max_bytes:
                        return too_big(f"more than {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        return TelegramError(DOWNLOAD, 599, f"{file_path}: too slow, given up")
                return bytes(received)
        except httpx.HTTPError as error:  # a transport failure, a broken stream or encoding
            return TelegramError(DOWNLOAD, 599, f"{file_path}: transport error: {type(error).__name__}")
        except httpx.InvalidURL:
            return TelegramError(DOWNLOAD, 400, f"{file_path!r}: not a file path")
