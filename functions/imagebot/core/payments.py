"""Telegram Stars: the picture packs on sale, what an invoice carries, and the ledger's shapes.
Pure: no I/O (the ledger itself is edges/store.PaymentStore, behind ports.Payments).

A pack is bought with Stars (currency XTR, whole stars, no payment provider) and adds picture
credits to the buyer. Free daily pictures are spent first, then credits. The ledger keeps one
document per payment, keyed by Telegram's `telegram_payment_charge_id`, and each user holds
`credits` counters, so that for every user, and for all of them together:

    bought == spent + held + refunded

A credit spent on a job that fails, is rejected (a flagged picture) or is cancelled before it is
drawn goes back from `spent` to `held`, once. A refund removes a payment's credits from `held`
into `refunded` first, then asks Telegram to return the Stars (refundStarPayment).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

CURRENCY = "XTR"  # Telegram Stars; amounts are whole stars, and the provider token is empty
# How long after buying a user may have an unused pack refunded themselves (operators may
# refund any payment, any time, with /refund <charge id>).
REFUND_WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class Pack:
    pack_id: str  # in the invoice payload and the buy button's callback data
    pictures: int  # credits added
    stars: int  # its price in Stars (XTR)


# On sale, in the order /buy shows them. One credit is one picture (a grid costs quota.GRID_COST).
PACKS: tuple[Pack, ...] = (
    Pack("p10", pictures=10, stars=50),
    Pack("p50", pictures=50, stars=200),
    Pack("p200", pictures=200, stars=600),
)
_PACKS = {pack.pack_id: pack for pack in PACKS}


def pack(pack_id: str) -> Pack | None:
    return _PACKS.get(pack_id)


def invoice_payload(pack_id: str, user_id: int) -> str:
    """What the invoice carries back in pre_checkout_query and successful_payment: the pack
    and the user it was made for (Telegram allows 1-128 bytes)."""
    return f"{pack_id}:{user_id}"


@dataclass(frozen=True)
class Payload:
    pack_id: str
    user_id: int


def parse_payload(payload: str) -> Payload | None:
    """None for anything this bot did not put in an invoice."""
    pack_id, _, user = payload.partition(":")
    if not pack_id or not user.lstrip("-").isdigit():
        return None
    return Payload(pack_id, int(user))


@dataclass(frozen=True)
class Credits:
    """A user's picture credits (the `credits` map of users/<id>)."""

    held: int = 0
    bought: int = 0
    spent: int = 0
    refunded: int = 0

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Credits:
        doc = doc or {}
        return cls(**{name: int(doc.get(name, 0)) for name in ("held", "bought", "spent", "refunded")})

    def to_doc(self) -> dict[str, int]:
        return {"held": self.held, "bought": self.bought, "spent": self.spent, "refunded": self.refunded}

    def balanced(self) -> bool:
        return self.bought == self.spent + self.held + self.refunded and min(vars(self).values()) >= 0

    def add(self, n: int) -> Credits:
        """A pack bought."""
        return replace(self, held=self.held + n, bought=self.bought + n)

    def spend(self, n: int) -> Credits:
        return replace(self, held=self.held - n, spent=self.spent + n)

    def give_back(self, n: int) -> Credits:
        """Credits of a job that was never drawn (or failed), back to the user."""
        return replace(self, held=self.held + n, spent=self.spent - n)

    def remove(self, n: int) -> Credits:
        """Credits taken out for a refund of their payment."""
        return replace(self, held=self.held - n, refunded=self.refunded + n)

    def restore(self, n: int) -> Credits:
        """A refund Telegram refused for good: the credits it removed, back."""
        return replace(self, held=self.held + n, refunded=self.refunded - n)


def split_cost(cost: int, free_left: int, held: int) -> tuple[int, int] | None:
    """(from the free daily pictures, from credits) for a job of `cost` pictures: free first,
    the rest from credits; None when the two together do not cover it."""
    from_free = max(0, min(cost, free_left))
    from_credits = cost - from_free
    return (from_free, from_credits) if from_credits <= held else None


class PaymentState(StrEnum):
    PAID = "paid"  # credited
    REFUNDING = "refunding"  # credits removed; refundStarPayment not yet confirmed
    REFUNDED = "refunded"  # Telegram returned the Stars


@dataclass(frozen=True)
class Payment:
    """payments/<charge_id>: one successful payment, and every step taken on it (`log`)."""

    charge_id: str  # telegram_payment_charge_id: the key, and what refundStarPayment needs
    user_id: int
    pack_id: str
    stars: int
    credits: int  # added when it was paid
    paid_at: datetime
    state: PaymentState = PaymentState.PAID
    credits_removed: int = 0  # taken out by its refund (all of them, or what was left)
    told: bool = False  # the buyer was told the credits arrived
    refund_told: bool = False  # the buyer was told the refund was made
    refund_by: str | None = None  # "user" or "operator <id>"
    log: list[dict[str, Any]] = field(default_factory=list)  # {"at", "step", ...}, in order

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Payment:
        values = {k: v for k, v in doc.items() if k in cls.__dataclass_fields__ and v is not None}
        values["state"] = PaymentState(doc.get("state", PaymentState.PAID))
        values["log"] = list(doc.get("log") or [])
        return cls(**values)

    def to_doc(self) -> dict[str, Any]:
        doc = dict(vars(self))
        doc["state"] = self.state.value
        return doc


class RefundRefusal(StrEnum):
    """Why a user's own refund is not made (told in words: texts `refund_<value>`)."""

    UNKNOWN = "unknown"  # no such payment of theirs
    DONE = "done"  # refunded already
    WINDOW = "window"  # bought longer ago than REFUND_WINDOW
    USED = "used"  # fewer credits held than the pack added: it is partly used


def user_refund_refusal(
    payment: Payment | None, user_id: int, held: int, now: datetime
) -> RefundRefusal | None:
    """Telegram refunds a payment whole (refundStarPayment has no amount), so a user may have a
    pack refunded while none of it is used: within the window, and holding at least its credits.
    A refund already under way (REFUNDING) is not refused: it is carried on."""
    if payment is None or payment.user_id != user_id:
        return RefundRefusal.UNKNOWN
    if payment.state == PaymentState.REFUNDED:
        return RefundRefusal.DONE
    if payment.state == PaymentState.REFUNDING:
        return None
    if now - payment.paid_at > REFUND_WINDOW:
        return RefundRefusal.WINDOW
    if held < payment.credits:
        return RefundRefusal.USED
    return None
