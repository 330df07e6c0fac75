"""A user pays an invoice: the pre_checkout_query, the bot's answer, the successful_payment; and
Telegram's own refund of a payment.

Telegram asks the bot first (a pre_checkout_query it must answer within 10 seconds, in the
webhook's response or by answerPreCheckoutQuery); only on "ok" does it charge the user, record the
payment and send the bot a message with `successful_payment`. A refusal's error_message is what
the user sees, and the outcome carries it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from local.fake_telegram import _stars, _updates
from local.fake_telegram._conversation import ConversationError, integer
from local.fake_telegram._store import Store, now

# Delivers one Update to the webhook; answers as WebhookSender.deliver does.
Deliver = Callable[[dict[str, Any]], dict[str, Any]]


class Checkout:
    def __init__(self, store: Store, timeout: float) -> None:
        self.store = store
        self.timeout = timeout

    def pay(self, request: dict[str, Any], deliver: Deliver) -> dict[str, Any]:
        """A control request to /_fake/payments (see the package docstring) played to its end."""
        query = self._ask(request)
        asking = _updates.update(
            self.store.claim_update_id(None), "pre_checkout_query", query.update_payload()
        )
        outcome: dict[str, Any] = {
            "pre_checkout_query_id": query.query_id,
            "pre_checkout": deliver(asking),
            "answered": False,
            "accepted": False,
            "error_message": None,
            "telegram_payment_charge_id": None,
            "successful_payment": None,
            "update": None,
            "message": None,
        }
        # The answer came in the webhook's response, or comes by answerPreCheckoutQuery until the
        # query is too old. A webhook that failed answers nothing: Telegram's retry is the test's.
        delivered = outcome["pre_checkout"]["status"] == 200
        until = query.asked + self.timeout if delivered else time.time()
        answered = self.store.wait_for_pre_checkout_answer(query, until)
        outcome.update(answered=answered.answered, error_message=answered.error_message)
        if not (answered.answered and answered.ok):
            self._note_failure(answered)
            return outcome
        message = self._charge(answered)
        update = _updates.update(self.store.claim_update_id(None), "message", message)
        outcome.update(
            accepted=True,
            telegram_payment_charge_id=message["successful_payment"]["telegram_payment_charge_id"],
            message=message,
            update=update,
            successful_payment=deliver(update),
        )
        return outcome

    def refund(self, request: dict[str, Any], deliver: Deliver) -> dict[str, Any]:
        """A control request to /_fake/star_payments/refund: Telegram refunds a payment by itself (its
        support, a dispute), not at the bot's refundStarPayment; the bot hears of it only by the
        refunded_payment message, which is delivered here."""
        charge_id = request.get("telegram_payment_charge_id")
        if not isinstance(charge_id, str) or not charge_id:
            raise ConversationError(400, "telegram_payment_charge_id (a string) is required")
        with self.store.lock:
            # As a payment is refused before it starts: a refund no webhook could hear of changes nothing.
            if self.store.webhook is None:
                raise ConversationError(409, "no webhook is set: the bot would not hear of the refund")
            payment = self.store.star_payments.get(charge_id)
            if payment is None:
                raise ConversationError(404, f"no Stars payment {charge_id}")
            if payment.refunded:
                raise ConversationError(409, f"the Stars payment {charge_id} is refunded already")
            message = self.store.give_stars_back(payment, event="stars_refunded_by_telegram")
        update = _updates.update(self.store.claim_update_id(None), "message", message)
        return {"update": update, "message": message, "delivery": deliver(update)}

    def _ask(self, request: dict[str, Any]) -> _stars.PreCheckoutQuery:
        user_id = integer(request, "user_id")
        chat_id = integer(request, "chat_id", default=user_id)
        message_id = integer(request, "message_id")
        sender = _updates.user(
            user_id,
            first_name=str(request.get("first_name") or "Test"),
            username=request.get("username"),
            language_code=request.get("language_code"),
        )
        with self.store.lock:
            message = self.store.message(chat_id, message_id)
            terms = self.store.invoices.get((chat_id, message_id))
            if message is None:
                raise ConversationError(404, f"no message {message_id} in chat {chat_id}")
            if terms is None:
                raise ConversationError(409, f"message {message_id} in chat {chat_id} is no invoice")
            if (chat_id, message_id) in self.store.paid_invoices:
                raise ConversationError(409, f"the invoice {message_id} in chat {chat_id} is paid already")
            if message["chat"]["type"] == "private":
                if chat_id != user_id:
                    raise ConversationError(403, "only the user of a private chat can pay its invoice")
                self.store.chat_log(chat_id, known=_updates.chat(chat_id, "private", sender))
            query = _stars.PreCheckoutQuery(
                query_id=str(secrets.randbelow(10**18) + 10**18),
                sender=sender,
                chat_id=chat_id,
                message_id=message_id,
                terms=terms,
                asked=time.time(),
            )
            self.store.pre_checkout_queries[query.query_id] = query
            self.store.note(
                chat_id,
                {
                    "from": "user",
                    "user_id": user_id,
                    "event": "pay",
                    "message_id": message_id,
                    "pre_checkout_query_id": query.query_id,
                },
            )
            return query

    def _charge(self, query: _stars.PreCheckoutQuery) -> dict[str, Any]:
        """The user pays: the ledger records it, and the chat gets the successful_payment message."""
        with self.store.lock:
            invoice = (query.chat_id, query.message_id)
            if invoice in self.store.paid_invoices:  # two payers raced: the first one paid
                raise ConversationError(409, f"the invoice {query.message_id} is paid already")
            self.store.paid_invoices.add(invoice)
            payment = _stars.StarPayment(
                charge_id=_stars.new_charge_id(),
                user=query.sender,
                chat_id=query.chat_id,
                amount=query.terms.total_amount,
                payload=query.terms.payload,
                date=now(),
            )
            self.store.star_payments[payment.charge_id] = payment
            message = {
                "message_id": self.store.new_message_id(query.chat_id),
                "from": query.sender,
                "chat": self.store.chat_log(query.chat_id).chat,
                "date": payment.date,
                "successful_payment": payment.successful_payment(),
            }
            saved = self.store.save_message(message)
            self.store.note(
                query.chat_id,
                {
                    "from": "user",
                    "user_id": query.sender["id"],
                    "event": "successful_payment",
                    "message_id": saved["message_id"],
                    "invoice_message_id": query.message_id,
                    "telegram_payment_charge_id": payment.charge_id,
                    "amount": payment.amount,
                },
            )
            return saved

    def _note_failure(self, query: _stars.PreCheckoutQuery) -> None:
        reason = query.error_message if query.answered else "the bot did not answer in time"
        self.store.note(
            query.chat_id,
            {
                "from": "telegram",
                "event": "payment_failed",
                "message_id": query.message_id,
                "pre_checkout_query_id": query.query_id,
                "error_message": reason,
            },
        )
