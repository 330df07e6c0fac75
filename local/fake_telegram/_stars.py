"""Telegram Stars: sendInvoice's rules, pre-checkout queries, and the fake's ledger of payments.

Pure rules and the shapes the store keeps; no I/O. Only Stars (currency XTR) are sold here: the
bot sells digital goods, for which Telegram requires Stars, so any other currency is refused.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from local.fake_telegram._errors import bad_request

STARS = "XTR"
MAX_TITLE_CHARS = 32
MAX_DESCRIPTION_CHARS = 255
MAX_PAYLOAD_BYTES = 128
# The most one Stars invoice may ask (Telegram's limit has grown over time; the bot's packs sit far below).
MAX_STARS = 10_000
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
CHARGE_NOT_FOUND = "CHARGE_NOT_FOUND"
CHARGE_ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"


@dataclass(frozen=True)
class InvoiceTerms:
    """What an invoice message sells: kept beside the message, since Telegram's Invoice object
    does not show the payload (it comes back only in pre_checkout_query and successful_payment)."""

    title: str
    payload: str
    currency: str
    total_amount: int


def invoice_terms(
    *,
    title: str | None,
    description: str | None,
    payload: str | None,
    currency: str | None,
    prices: Any,
    provider_token: str | None,
) -> InvoiceTerms:
    """sendInvoice's parameters checked as Telegram checks a Stars invoice; raises its 400."""
    if not title or len(title) > MAX_TITLE_CHARS:
        raise bad_request(f"invoice title must be 1-{MAX_TITLE_CHARS} characters")
    if not description or len(description) > MAX_DESCRIPTION_CHARS:
        raise bad_request(f"invoice description must be 1-{MAX_DESCRIPTION_CHARS} characters")
    if not payload or len(payload.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise bad_request("INVOICE_PAYLOAD_INVALID")
    if currency != STARS:
        # Telegram would want a payment provider for a real currency; this fake has none.
        raise bad_request(
            f"PAYMENT_PROVIDER_INVALID: the fake Bot API sells Telegram Stars (XTR) only, not {currency!r}"
        )
    if provider_token:
        raise bad_request(
            "PAYMENT_PROVIDER_INVALID: provider_token must be empty for payments in Telegram Stars"
        )
    if not isinstance(prices, list) or not all(_is_labeled_price(price) for price in prices):
        raise bad_request("can't parse prices JSON object")
    if len(prices) != 1:
        raise bad_request("STARS_INVOICE_INVALID: an invoice in Telegram Stars has exactly one price")
    amount = prices[0]["amount"]
    if not 1 <= amount <= MAX_STARS:
        raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
    return InvoiceTerms(title, payload, STARS, amount)


def _is_labeled_price(price: Any) -> bool:
    # A whole number of stars: 1.5 or "5" is no amount (bool is an int in Python, and no amount either).
    return (
        isinstance(price, dict)
        and isinstance(price.get("label"), str)
        and bool(price["label"])
        and isinstance(price.get("amount"), int)
        and not isinstance(price["amount"], bool)
    )


def check_pay_button(markup: dict[str, Any] | None) -> None:
    """Telegram's rule for an invoice's inline keyboard: if there is one, its first button pays."""
    if markup is None:
        return
    rows = markup.get("inline_keyboard")
    if not rows or not rows[0] or not rows[0][0].get("pay"):
        raise bad_request("the first button of an invoice's inline keyboard must be a pay button")


def invoice_object(terms: InvoiceTerms, description: str, start_parameter: str) -> dict[str, Any]:
    """The Bot API Invoice object a sent invoice message carries."""
    return {
        "title": terms.title,
        "description": description,
        "start_parameter": start_parameter,
        "currency": terms.currency,
        "total_amount": terms.total_amount,
    }


@dataclass
class PreCheckoutQuery:
    """A user pressed Pay: open until the bot answers once, or until it is too old."""

    query_id: str
    sender: dict[str, Any]
    chat_id: int
    message_id: int
    terms: InvoiceTerms
    asked: float
    answered: bool = False
    ok: bool = False
    error_message: str | None = None

    def update_payload(self) -> dict[str, Any]:
        """The PreCheckoutQuery object of the update."""
        return {
            "id": self.query_id,
            "from": self.sender,
            "currency": self.terms.currency,
            "total_amount": self.terms.total_amount,
            "invoice_payload": self.terms.payload,
        }


def checked_answer(ok: bool, error_message: str | None) -> str | None:
    """answerPreCheckoutQuery's rule: a refusal says why (Telegram shows it to the user)."""
    if ok:
        return None
    if not error_message or not error_message.strip():
        raise bad_request("error_message is required when ok is False: Telegram shows it to the user")
    return error_message


def new_charge_id() -> str:
    """A telegram_payment_charge_id: Telegram's start ("stx"), then plainly a fake's."""
    return f"stxFAKE{secrets.token_hex(16)}"


@dataclass
class StarPayment:
    """One payment in the fake's ledger; Stars go back at most once, whatever the bot asks."""

    charge_id: str
    user: dict[str, Any]
    chat_id: int
    amount: int
    payload: str
    date: int
    refund_count: int = 0  # times the Stars went back: 0 or 1, never more
    refund_refusals: int = 0  # refunds asked again after the first, refused as already refunded
    refund_date: int | None = None

    @property
    def refunded(self) -> bool:
        return self.refund_count > 0

    def describe(self) -> dict[str, Any]:
        return {
            "telegram_payment_charge_id": self.charge_id,
            "user_id": self.user["id"],
            "chat_id": self.chat_id,
            "amount": self.amount,
            "currency": STARS,
            "invoice_payload": self.payload,
            "date": self.date,
            "refunded": self.refunded,
            "refund_count": self.refund_count,
            "refund_refusals": self.refund_refusals,
            "refund_date": self.refund_date,
        }

    def successful_payment(self) -> dict[str, Any]:
        """The SuccessfulPayment object of the message update (no provider for Stars)."""
        return {**self.refunded_payment(), "provider_payment_charge_id": ""}

    def refunded_payment(self) -> dict[str, Any]:
        """The RefundedPayment object of Telegram's service message: its optional
        provider_payment_charge_id is left out, there being no provider for Stars."""
        return {
            "currency": STARS,
            "total_amount": self.amount,
            "invoice_payload": self.payload,
            "telegram_payment_charge_id": self.charge_id,
        }

    def transactions(self) -> list[dict[str, Any]]:
        """This payment as getStarTransactions lists it: the income, and the refund if any."""
        partner = {
            "type": "user",
            "transaction_type": "invoice_payment",
            "user": self.user,
            "invoice_payload": self.payload,
        }
        paid = {"id": self.charge_id, "amount": self.amount, "date": self.date, "source": partner}
        if self.refund_date is None:
            return [paid]
        return [
            paid,
            {"id": self.charge_id, "amount": self.amount, "date": self.refund_date, "receiver": partner},
        ]
