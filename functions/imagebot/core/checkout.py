"""Telegram Stars as the buyer sees them: the pre-checkout decision, what a payment credits,
the packs' and refunds' buttons. Pure: no I/O (chat/payments.py carries it out).

Telegram asks before it takes the Stars (pre_checkout_query) and waits 10 seconds for the
answer, so the decision is made from the query alone and one read of the operating mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from imagebot.core import keyboards, ledger, payments, texts
from imagebot.core.ops import Mode
from imagebot.core.payments import CURRENCY, PACKS, REFUND_WINDOW, Pack, Payment
from imagebot.core.updates import PaymentMade, PreCheckout


class CheckoutRefusal(StrEnum):
    """Why a checkout is refused (told as texts `checkout_<value>`)."""

    PAUSED = "paused"  # sales stop while the bot is paused
    UNAVAILABLE = "unavailable"  # the mode could not be read: try again
    UNKNOWN_PACK = "unknown_pack"
    CURRENCY = "currency"
    AMOUNT = "amount"  # not the pack's price (an old invoice after a price change)
    NOT_YOURS = "not_yours"  # an invoice made for someone else, paid by this user


def checkout_refusal(query: PreCheckout, mode: Mode | None) -> CheckoutRefusal | None:
    """None to let the payment go ahead; `mode` None when it could not be read."""
    if mode is None:
        return CheckoutRefusal.UNAVAILABLE
    if mode == Mode.PAUSED:
        return CheckoutRefusal.PAUSED
    payload = payments.parse_payload(query.invoice_payload)
    pack = payments.pack(payload.pack_id) if payload else None
    if payload is None or pack is None:
        return CheckoutRefusal.UNKNOWN_PACK
    if payload.user_id != query.user_id:
        return CheckoutRefusal.NOT_YOURS
    if query.currency != CURRENCY:
        return CheckoutRefusal.CURRENCY
    if query.total_amount != pack.stars:
        return CheckoutRefusal.AMOUNT
    return None


def checkout_answer(query: PreCheckout, refusal: CheckoutRefusal | None) -> dict[str, Any]:
    """answerPreCheckoutQuery, as the webhook's reply; a refusal says why in the payer's language."""
    answer: dict[str, Any] = {
        "method": "answerPreCheckoutQuery",
        "pre_checkout_query_id": query.pre_checkout_query_id,
        "ok": refusal is None,
    }
    if refusal is not None:
        answer["error_message"] = texts.render(texts.language_for(query.language_code), f"checkout_{refusal}")
    return answer


@dataclass(frozen=True)
class Credited:
    pack_id: str
    credits: int
    problem: str | None  # why the payment is not what its invoice asked (logged as an error)


def credited(paid: PaymentMade) -> Credited:
    """The credits a successful payment adds. The Stars came whatever the payload says, so a
    stale or mismatched invoice still credits what was paid: the pack at that price, else the
    smallest pack's rate (rounded down), and the mismatch is reported."""
    payload = payments.parse_payload(paid.invoice_payload)
    pack = payments.pack(payload.pack_id) if payload else None
    problem = None
    if pack is None:
        problem = "an invoice payload this bot does not know"
    elif payload is not None and payload.user_id != paid.user_id:
        problem = "paid by another user than the invoice's"
    elif paid.currency != CURRENCY or paid.total_amount != pack.stars:
        problem = "an amount or currency other than the pack's"
    if pack is not None and paid.currency == CURRENCY and paid.total_amount == pack.stars:
        return Credited(pack.pack_id, pack.pictures, problem)
    at_price = next((p for p in PACKS if p.stars == paid.total_amount), None)
    if at_price is not None and paid.currency == CURRENCY:
        return Credited(at_price.pack_id, at_price.pictures, problem)
    rate = PACKS[0]
    return Credited("unknown", paid.total_amount * rate.pictures // rate.stars, problem)


def window_days() -> int:
    return REFUND_WINDOW.days


def pack_buttons(language: str) -> dict[str, Any]:
    """/buy: one button a pack, its pictures and price."""
    return {"inline_keyboard": [[_pack_button(pack, language)] for pack in PACKS]}


def _pack_button(pack: Pack, language: str) -> dict[str, str]:
    text = texts.render(language, "button_pack", pictures=pack.pictures, stars=pack.stars)
    return {"text": text, "callback_data": keyboards.encode("buy", pack.pack_id)}


def refund_buttons(refundable: list[Payment], language: str) -> dict[str, Any]:
    """/refund: one button a refundable payment, named by its short id (ledger.short_id)."""
    rows = []
    for payment in refundable:
        text = texts.render(
            language,
            "button_refund",
            pictures=payment.credits,
            stars=payment.stars,
            date=payment.paid_at.date().isoformat(),
        )
        rows.append(
            [{"text": text, "callback_data": keyboards.encode("refund", ledger.short_id(payment.charge_id))}]
        )
    return {"inline_keyboard": rows}
