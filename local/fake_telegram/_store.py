"""Everything the fake remembers: chats and their messages, files, calls, the webhook, commands.

One re-entrant lock guards it all; a method holds it for its whole read-modify-write (an edit
checks and changes a message atomically) but never while waiting on the network. A condition on
that lock wakes whoever waits for a chat to change (the web chat page long-polls).
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from local.fake_telegram import _stars, _updates
from local.fake_telegram._errors import bad_request
from local.fake_telegram._faults import FaultBook


@dataclass(frozen=True)
class StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    kind: str
    content_type: str
    data: bytes

    def describe(self) -> dict[str, Any]:
        """A Bot API File object."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass
class ChatLog:
    chat: dict[str, Any]
    next_message_id: int = 1
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    transcript: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    allowed_updates: list[str] | None
    # Telegram never opens more than max_connections at once; neither does the fake.
    connections: threading.BoundedSemaphore
    last_error_date: int | None = None
    last_error_message: str | None = None

    def describe(self) -> dict[str, Any]:
        """A Bot API WebhookInfo object."""
        info: dict[str, Any] = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": 0,
            "max_connections": self.max_connections,
        }
        if self.allowed_updates:
            info["allowed_updates"] = list(self.allowed_updates)
        if self.last_error_date is not None:
            info["last_error_date"] = self.last_error_date
            info["last_error_message"] = self.last_error_message
        return info


_FOLDERS = {"photo": "photos", "animation": "animations", "video": "videos", "video_note": "video_notes"}
_FILE_ID_PREFIXES = {"photo": "AgAC", "animation": "CgAC", "video": "BAAC", "video_note": "DQAC"}


@dataclass
class InlineQuery:
    """An inline query a user typed: open until answered once, or until it is too old."""

    sender: dict[str, Any]
    query: str
    asked: float
    answer: list[dict[str, Any]] | None = None


@dataclass(frozen=True)
class InlineMessage:
    """Where a chosen inline result was placed, for edits by inline_message_id."""

    chat_id: int
    message_id: int


NO_WEBHOOK_INFO = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}


def now() -> int:
    return int(time.time())


class Store:
    def __init__(self, bot: dict[str, Any]) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.bot = bot
        self.faults = FaultBook()
        self.webhook: Webhook | None = None
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        # Update ids never repeat, not even across a reset or a restart of the fake: the bot
        # deduplicates on them in a Firestore that outlives both. The clock gives each start a
        # fresh range (it would take over 1000 updates a second to catch up with the next start).
        self._last_update_id = 100_000_000 + int(time.time() * 1000) % 900_000_000
        # Transcript entries keep numbering across a reset too: a chat's version (its latest
        # entry's seq) then never comes back to a value a waiting client already saw.
        self._transcript_seq = itertools.count(1)
        # Calls being answered right now (a fault may hold one for seconds), by ticket; a reset
        # leaves them, as it leaves the calls themselves to finish.
        self.in_flight: dict[int, dict[str, Any]] = {}
        self._tickets = itertools.count(1)
        self._clear_records()

    def _clear_records(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.chats: dict[int, ChatLog] = {}
        self.files: dict[str, StoredFile] = {}
        self.file_paths: dict[str, str] = {}
        self.photo_sets: dict[str, list[dict[str, Any]]] = {}
        self.documents: dict[str, dict[str, Any]] = {}
        self.open_callback_queries: dict[str, int] = {}
        self.inline_queries: dict[str, InlineQuery] = {}
        self.inline_messages: dict[str, InlineMessage] = {}
        # Stars: what each invoice message sells, by (chat_id, message_id); open and answered
        # pre-checkout queries; the ledger of payments, by telegram_payment_charge_id, in order.
        self.invoices: dict[tuple[int, int], _stars.InvoiceTerms] = {}
        self.paid_invoices: set[tuple[int, int]] = set()
        self.pre_checkout_queries: dict[str, _stars.PreCheckoutQuery] = {}
        self.star_payments: dict[str, _stars.StarPayment] = {}
        self._seq = itertools.count(1)
        self._file_numbers = itertools.count(1)

    def reset(self) -> None:
        """Forget calls, chats, files, payments and faults; keep the webhook, the commands and the
        update ids."""
        with self.lock:
            self._clear_records()
            self.faults.clear()
            self.changed.notify_all()

    # -- the call log ---------------------------------------------------------------------------

    def record_call(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            entry = {"seq": next(self._seq), **entry}
            self.calls.append(entry)
            return copy.deepcopy(entry)

    def call_began(self, method: str, params: dict[str, Any], started: float) -> int:
        """A call arrived and is being answered; its ticket, for `call_ended`."""
        with self.lock:
            ticket = next(self._tickets)
            self.in_flight[ticket] = {"method": method, "params": copy.deepcopy(params), "time": started}
            return ticket

    def call_ended(self, ticket: int) -> None:
        with self.lock:
            self.in_flight.pop(ticket, None)

    def calls_in_flight(self) -> list[dict[str, Any]]:
        """What the bot is waiting for an answer to now: sent, not yet answered nor recorded."""
        with self.lock:
            return copy.deepcopy(list(self.in_flight.values()))

    def calls_since(self, since: int, method: str | None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                copy.deepcopy(call)
                for call in self.calls
                if call["seq"] > since and (method is None or call["method"].lower() == method.lower())
            ]

    # -- updates --------------------------------------------------------------------------------

    def claim_update_id(self, requested: int | None) -> int:
        """Telegram's update ids increase; a test may also redeliver one it chose (a retry)."""
        with self.lock:
            if requested is None:
                self._last_update_id += 1
                return self._last_update_id
            self._last_update_id = max(self._last_update_id, requested)
            return requested

    # -- chats and messages ---------------------------------------------------------------------

    def chat_log(self, chat_id: int, known: dict[str, Any] | None = None) -> ChatLog:
        with self.lock:
            log = self.chats.get(chat_id)
            if log is None:
                log = ChatLog(chat=known or _unknown_chat(chat_id))
                self.chats[chat_id] = log
            elif known is not None:
                log.chat = known
            return log

    def new_message_id(self, chat_id: int) -> int:
        with self.lock:
            log = self.chat_log(chat_id)
            message_id = log.next_message_id
            log.next_message_id += 1
            return message_id

    def save_message(self, message: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            log = self.chat_log(message["chat"]["id"])
            log.messages[message["message_id"]] = copy.deepcopy(message)
            log.next_message_id = max(log.next_message_id, message["message_id"] + 1)
            return copy.deepcopy(message)

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        with self.lock:
            log = self.chats.get(chat_id)
            found = log.messages.get(message_id) if log else None
            return copy.deepcopy(found) if found else None

    def delete_message(self, chat_id: int, message_id: int) -> bool:
        with self.lock:
            log = self.chats.get(chat_id)
            return bool(log and log.messages.pop(message_id, None))

    def note(self, chat_id: int, entry: dict[str, Any]) -> None:
        """Append to the chat's transcript: what a person looking at the chat would have seen."""
        with self.lock:
            self.chat_log(chat_id).transcript.append(
                {"seq": next(self._transcript_seq), "time": time.time(), **entry}
            )
            self.changed.notify_all()

    def chat_version(self, chat_id: int) -> int:
        """The seq of the chat's latest transcript entry: every change of a chat adds one; 0 for none."""
        with self.lock:
            log = self.chats.get(chat_id)
            return log.transcript[-1]["seq"] if log and log.transcript else 0

    def wait_for_chat_change(self, chat_id: int, seen: int, timeout: float) -> None:
        """Return once the chat's version differs from `seen`, or after `timeout` seconds."""
        with self.changed:
            self.changed.wait_for(lambda: self.chat_version(chat_id) != seen, timeout)

    def chat_view(self, chat_id: int) -> dict[str, Any] | None:
        with self.lock:
            log = self.chats.get(chat_id)
            if log is None:
                return None
            return copy.deepcopy(
                {
                    "chat": log.chat,
                    "version": self.chat_version(chat_id),
                    "messages": [log.messages[key] for key in sorted(log.messages)],
                    "transcript": log.transcript,
                }
            )

    # -- files ----------------------------------------------------------------------------------

    def store_file(self, data: bytes, *, kind: str, content_type: str, extension: str) -> StoredFile:
        with self.lock:
            number = next(self._file_numbers)
            folder = _FOLDERS.get(kind, "documents")
            # Real file ids are opaque and differ per bot; unique ids are stable for the same content.
            prefix = _FILE_ID_PREFIXES.get(kind, "BQAC")
            stored = StoredFile(
                file_id=f"{prefix}{number:06d}{secrets.token_urlsafe(12)}",
                file_unique_id="AQAD" + hashlib.sha256(data).hexdigest()[:12],
                file_path=f"{folder}/file_{number}.{extension}",
                kind=kind,
                content_type=content_type,
                data=data,
            )
            self.files[stored.file_id] = stored
            self.file_paths[stored.file_path] = stored.file_id
            return stored

    def file(self, file_id: str) -> StoredFile | None:
        with self.lock:
            return self.files.get(file_id)

    def file_at(self, file_path: str) -> StoredFile | None:
        with self.lock:
            file_id = self.file_paths.get(file_path)
            return self.files.get(file_id) if file_id else None

    def save_photo_set(self, sizes: list[dict[str, Any]]) -> None:
        with self.lock:
            for size in sizes:
                self.photo_sets[size["file_id"]] = sizes

    def photo_set(self, file_id: str) -> list[dict[str, Any]] | None:
        with self.lock:
            sizes = self.photo_sets.get(file_id)
            return copy.deepcopy(sizes) if sizes else None

    # -- callback queries -----------------------------------------------------------------------

    def open_callback_query(self, chat_id: int) -> str:
        with self.lock:
            query_id = str(secrets.randbelow(10**18) + 10**18)
            self.open_callback_queries[query_id] = chat_id
            return query_id

    def close_callback_query(self, query_id: str) -> int:
        """The chat of an open query; a query is answered once (Telegram refuses a second answer)."""
        with self.lock:
            chat_id = self.open_callback_queries.pop(query_id, None)
            if chat_id is None:
                raise bad_request("query is too old and response timeout expired or query ID is invalid")
            return chat_id

    # -- Stars ----------------------------------------------------------------------------------

    def answer_pre_checkout_query(
        self, query_id: str, ok: bool, error_message: str | None, timeout: float
    ) -> None:
        """The bot's one answer, within `timeout` seconds of the query; wakes the waiting payer."""
        with self.lock:
            query = self.pre_checkout_queries.get(query_id)
            if query is None or query.answered or time.time() - query.asked >= timeout:
                raise bad_request(_stars.QUERY_TOO_OLD)
            query.answered, query.ok, query.error_message = True, ok, error_message
            self.note(
                query.chat_id,
                {
                    "from": "bot",
                    "event": "pre_checkout_answer",
                    "pre_checkout_query_id": query_id,
                    "message_id": query.message_id,
                    "ok": ok,
                    "error_message": error_message,
                },
            )

    def wait_for_pre_checkout_answer(
        self, query: _stars.PreCheckoutQuery, until: float
    ) -> _stars.PreCheckoutQuery:
        """A copy of the (stored) query once answered, or as it stands at time.time() `until`;
        a reset meanwhile leaves it unanswered."""
        with self.changed:
            self.changed.wait_for(lambda: query.answered, max(0.0, until - time.time()))
            return copy.deepcopy(query)

    def refund_star_payment(self, user_id: int, charge_id: str) -> dict[str, Any]:
        """The bot's refund (refundStarPayment): an unknown charge, or another user's, is not found;
        a second refund is refused, and counted, so a test sees the bot asked twice."""
        with self.lock:
            payment = self.star_payments.get(charge_id)
            if payment is None or payment.user["id"] != user_id:
                raise bad_request(_stars.CHARGE_NOT_FOUND)
            if payment.refunded:
                payment.refund_refusals += 1
                raise bad_request(_stars.CHARGE_ALREADY_REFUNDED)
            return self.give_stars_back(payment, event="stars_refunded")

    def give_stars_back(self, payment: _stars.StarPayment, *, event: str) -> dict[str, Any]:
        """A refund, whoever made it: the ledger marks it, and Telegram tells the buyer's chat with a
        refunded_payment service message (saved here; returned, for whoever delivers it). `event`
        names who refunded in the transcript. The caller has checked it is not refunded already."""
        with self.lock:
            payment.refund_count += 1
            payment.refund_date = now()
            message = self.save_message(
                {
                    "message_id": self.new_message_id(payment.chat_id),
                    "from": payment.user,
                    "chat": self.chat_log(payment.chat_id).chat,
                    "date": payment.refund_date,
                    "refunded_payment": payment.refunded_payment(),
                }
            )
            self.note(
                payment.chat_id,
                {
                    "from": "telegram",
                    "event": event,
                    "message_id": message["message_id"],
                    "telegram_payment_charge_id": payment.charge_id,
                    "amount": payment.amount,
                },
            )
            return message

    def describe_star_payments(self) -> list[dict[str, Any]]:
        with self.lock:
            return [payment.describe() for payment in self.star_payments.values()]


def _unknown_chat(chat_id: int) -> dict[str, Any]:
    """A chat the bot writes to before any update came from it (tests calling the API directly)."""
    if chat_id > 0:
        return _updates.chat(chat_id, "private", _updates.user(chat_id))
    chat_type = "supergroup" if chat_id < -1_000_000_000_000 else "group"
    return _updates.chat(chat_id, chat_type, {})
