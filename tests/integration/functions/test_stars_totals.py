"""/stats' ledger totals counted by the Firestore emulator itself (aggregation queries:
PaymentStore.totals), equal to the figures the fakes compute from every document."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from google.cloud import firestore
from imagebot.core import stats
from imagebot.core.payments import Credits, Payment
from imagebot.edges.store import PaymentStore


def test_the_totals_are_the_ledgers_sums(emulators):
    # A project of its own: the totals count every payment and user in one.
    db = firestore.Client(project=f"imagebot-totals-{uuid.uuid4().hex[:6]}")
    store = PaymentStore(db)
    assert store.totals() == stats.LedgerTotals()  # sums over nothing are 0

    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    for n, (user_id, stars, credits) in enumerate([(1, 50, 10), (1, 200, 50), (2, 50, 10)]):
        store.record_payment(Payment(f"stx-{n}", user_id, "p", stars=stars, credits=credits, paid_at=now))
    store.start_refund("stx-2", now, by="user", whole=True)
    store.finish_refund("stx-2", now)
    store.start_refund("stx-1", now, by="user", whole=True)  # under way: not refunded yet
    db.collection("users").document("1").set(
        {"credits": Credits(10, 60, 0, 50).spend(4).to_doc()}, merge=True
    )
    db.collection("users").document("3").set({"language": "en"})  # a user without credits

    totals = store.totals()
    assert totals == stats.LedgerTotals(
        stars_paid=300, payments=3, stars_refunded=50, refunds=1, credits_held=6, credits_spent=4
    )
    everyone = [Credits.from_doc((s.to_dict() or {}).get("credits")) for s in db.collection("users").stream()]
    recorded = [Payment.from_doc(s.to_dict() or {}) for s in db.collection("payments").stream()]
    assert stats.ledger_totals(recorded, everyone) == totals
