"""The ledger's invariant, checked over what the store holds: the emulator's documents (a
firestore.Client) or the in-memory fakes (FakeServices). The e2e tests call it after each test.

For every user with credits:
- bought == spent + held + refunded, and none of them below zero (payments.Credits.balanced);
- bought == the credits of the user's payments (each payment credited once);
- refunded == the credits the user's refunds took out (REFUNDING or REFUNDED payments);
- spent == the credits paid by the user's jobs that have not given them back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from google.cloud import firestore
from imagebot.core.jobs import Job
from imagebot.core.payments import Credits, Payment, PaymentState

from tests.support.fakes import FakeServices


@dataclass(frozen=True)
class Books:
    """One user's side of the ledger, as stored."""

    credits: Credits
    payments: list[Payment]
    jobs: list[Job]


def assert_balanced(source: firestore.Client | FakeServices, user_ids: Iterable[int] | None = None) -> int:
    """Raises AssertionError naming the first user whose books do not balance; returns how many
    users were checked. `user_ids` None: every user with credits or payments."""
    books = _fake_books(source, user_ids) if isinstance(source, FakeServices) else _books(source, user_ids)
    for user_id, book in books.items():
        problems = imbalances(book)
        assert not problems, f"user {user_id}: {'; '.join(problems)} ({book.credits})"
    return len(books)


def imbalances(book: Books) -> list[str]:
    credits = book.credits
    problems = [] if credits.balanced() else ["bought != spent + held + refunded, or a counter below 0"]
    paid_in = sum(payment.credits for payment in book.payments)
    if paid_in != credits.bought:
        problems.append(f"payments credited {paid_in}, bought {credits.bought}")
    removed = sum(p.credits_removed for p in book.payments if p.state != PaymentState.PAID)
    if removed != credits.refunded:
        problems.append(f"refunds took out {removed}, refunded {credits.refunded}")
    kept = sum(job.paid_credits for job in book.jobs if not job.credits_returned)
    if kept != credits.spent:
        problems.append(f"jobs kept {kept} credits, spent {credits.spent}")
    return problems


def _books(db: firestore.Client, user_ids: Iterable[int] | None) -> dict[int, Books]:
    if user_ids is None:
        payers = {int(s.get("user_id")) for s in db.collection("payments").stream()}
        holders = {int(s.id) for s in db.collection("users").stream() if (s.to_dict() or {}).get("credits")}
        user_ids = payers | holders
    books = {}
    for user_id in user_ids:
        user = db.collection("users").document(str(user_id)).get().to_dict() or {}
        payments = _where(db, "payments", user_id)
        jobs = _where(db, "jobs", user_id)
        books[user_id] = Books(
            Credits.from_doc(user.get("credits")),
            [Payment.from_doc(doc) for _, doc in payments],
            [Job.from_doc(doc, job_id) for job_id, doc in jobs],
        )
    return books


def _where(db: firestore.Client, collection: str, user_id: int) -> list[tuple[str, dict[str, Any]]]:
    query = db.collection(collection).where(filter=firestore.FieldFilter("user_id", "==", user_id))
    return [(snapshot.id, snapshot.to_dict() or {}) for snapshot in query.stream()]


def _fake_books(rt: FakeServices, user_ids: Iterable[int] | None) -> dict[int, Books]:
    if user_ids is None:
        payers = {int(doc["user_id"]) for doc in rt.payments.docs.values()}
        user_ids = payers | {user_id for user_id, doc in rt.users.docs.items() if doc.get("credits")}
    return {
        user_id: Books(
            rt.payments.credits_of(user_id),
            rt.payments.payments_of(user_id),
            [job for job in rt.jobs._all() if job.user_id == user_id],
        )
        for user_id in user_ids
    }
