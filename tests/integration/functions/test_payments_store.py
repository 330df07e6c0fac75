"""The Stars ledger against the Firestore emulator (edges/store.PaymentStore, and the credits
JobStore.admit_job and cancel_job move): every step once, however many callers race for it,
and the books balance after each test."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest
from imagebot.core import ledger, quota
from imagebot.core.jobs import State
from imagebot.core.payments import Credits, Payment, PaymentState
from imagebot.core.vocabulary import STYLES

from tests.support.events import unique_ids
from tests.support.jobs import put_job
from tests.support.ledger import assert_balanced

ids = unique_ids(41_000_000)
T = TypeVar("T")
# No free pictures left: every job is paid with credits; a bucket wide enough never to refuse.
PAID_ONLY = quota.QuotaPolicy(burst=50, refill_seconds=1.0, daily_limit=0)
FREE_ONE = quota.QuotaPolicy(burst=50, refill_seconds=1.0, daily_limit=1)


def at_once(n: int, call: Callable[[], T]) -> list[T]:
    """`call` from n threads at once: n instances racing for the same documents."""
    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: call(), range(n)))


def payment(user_id: int, credits: int = 10, paid_at: datetime | None = None) -> Payment:
    return Payment(
        f"stxcharge{next(ids)}",
        user_id,
        "p10",
        stars=50,
        credits=credits,
        paid_at=paid_at or datetime.now(UTC),
    )


@pytest.fixture
def user(runtime):
    """A fresh user; after the test, their books must balance."""
    user_id = next(ids)
    yield user_id
    assert_balanced(runtime.db, {user_id})


def test_a_payment_recorded_three_times_at_once_credits_once(runtime, user):
    paid = payment(user)
    results = at_once(3, lambda: runtime.payments.record_payment(paid))
    assert sorted(first for _, first in results) == [False, False, True]
    assert runtime.payments.credits_of(user) == Credits(held=10, bought=10)
    stored = runtime.payments.get_payment(paid.charge_id)
    assert [entry["step"] for entry in stored.log] == ["paid"]
    assert runtime.payments.payment_by_short_id(user, ledger.short_id(paid.charge_id)) == stored
    assert runtime.payments.payment_by_short_id(user + 1, ledger.short_id(paid.charge_id)) is None


def test_payments_of_a_user_newest_first(runtime, user):
    older = payment(user, paid_at=datetime.now(UTC) - timedelta(days=1))
    newer = payment(user, credits=50)
    for paid in (older, newer):
        runtime.payments.record_payment(paid)
    assert [p.charge_id for p in runtime.payments.payments_of(user)] == [newer.charge_id, older.charge_id]
    runtime.payments.mark_told(newer.charge_id)
    assert runtime.payments.get_payment(newer.charge_id).told
    assert not runtime.payments.get_payment(newer.charge_id).refund_told
    runtime.payments.mark_refund_told(newer.charge_id)
    assert runtime.payments.get_payment(newer.charge_id).refund_told
    assert not runtime.payments.get_payment(older.charge_id).refund_told


def test_admission_spends_free_pictures_then_credits_and_never_more_than_held(runtime, user):
    runtime.payments.record_payment(payment(user, credits=2))
    jobs = [put_job(runtime, f"u{next(ids)}", user, State.VALIDATED) for _ in range(4)]
    now = datetime.now(UTC)
    with ThreadPoolExecutor(4) as pool:
        admitted = list(
            pool.map(lambda job: runtime.jobs.admit_job(job.job_id, user, FREE_ONE, now)[0], jobs)
        )
    queued = [job for job in admitted if job.state == State.QUEUED]
    assert sorted(job.paid_credits for job in queued) == [0, 1, 1]  # one free, two credits
    assert [job.reason for job in admitted if job.state == State.REJECTED] == ["daily"]
    assert runtime.payments.credits_of(user) == Credits(held=0, bought=2, spent=2)


def test_a_set_paid_with_credits_records_each_jobs_share(runtime, user):
    runtime.payments.record_payment(payment(user))
    set_id = f"u{next(ids)}"
    job_ids = [f"{set_id}-{style}" for style in STYLES]
    runtime.jobs.create_set(set_id, job_ids, datetime.now(UTC))
    for job_id in job_ids:
        put_job(runtime, job_id, user, State.VALIDATED, set_id=set_id)
    now = datetime.now(UTC)
    admitted = [runtime.jobs.admit_job(job_id, user, FREE_ONE, now)[0] for job_id in job_ids]
    assert [job.paid_credits for job in admitted] == [0, 1, 1]
    assert runtime.payments.credits_of(user).held == 8


def test_a_failed_paid_job_returns_its_credits_once_however_many_callers(runtime, user):
    """Four callers race, and a fifth may join them: the e2e stack, when it runs in the same
    session, sweeps this emulator every few seconds and returns what any job owes. However
    many, the credits come back once (held 10, not 12)."""
    runtime.payments.record_payment(payment(user))
    job = put_job(runtime, f"u{next(ids)}", user, State.VALIDATED, cost=2)
    runtime.jobs.admit_job(job.job_id, user, PAID_ONLY, datetime.now(UTC))
    assert runtime.payments.return_credits(job.job_id, datetime.now(UTC)) == 0  # still going
    runtime.jobs.move_job(job.job_id, State.FAILED, datetime.now(UTC), reason="dead-lettered")
    owed = [j.job_id for j in runtime.payments.jobs_owed_credits()].count(job.job_id)
    assert owed == 1 or runtime.jobs.get_job(job.job_id).credits_returned  # found, or swept already
    returned = at_once(4, lambda: runtime.payments.return_credits(job.job_id, datetime.now(UTC)))
    assert sorted(returned) in ([0, 0, 0, 2], [0, 0, 0, 0])  # all zero: the stack's sweep was first
    assert runtime.payments.credits_of(user) == Credits(held=10, bought=10)
    assert job.job_id not in [j.job_id for j in runtime.payments.jobs_owed_credits()]


def test_a_cancel_before_drawing_returns_the_credits_with_the_quota(runtime, user):
    runtime.payments.record_payment(payment(user))
    job = put_job(runtime, f"u{next(ids)}", user, State.VALIDATED, cost=2)
    now = datetime.now(UTC)
    admitted, _ = runtime.jobs.admit_job(job.job_id, user, FREE_ONE, now)
    assert admitted.paid_credits == 1 and runtime.users.get_user(user)["quota"]["used_today"] == 1
    cancels = at_once(3, lambda: runtime.jobs.cancel_job(job.job_id, FREE_ONE, now, timedelta(minutes=2)))
    assert sorted(refunded for _, refunded in cancels) == [False, False, True]
    assert runtime.payments.credits_of(user) == Credits(held=10, bought=10)
    assert runtime.users.get_user(user)["quota"]["used_today"] == 0  # the free picture, back
    assert runtime.payments.return_credits(job.job_id, now) == 0  # given back already


def test_a_refund_started_twice_at_once_removes_the_credits_once(runtime, user):
    paid = payment(user)
    runtime.payments.record_payment(paid)
    now = datetime.now(UTC)
    started = at_once(2, lambda: runtime.payments.start_refund(paid.charge_id, now, by="user", whole=True))
    assert [p.state for p in started] == [PaymentState.REFUNDING] * 2
    assert runtime.payments.credits_of(user) == Credits(bought=10, refunded=10)
    assert paid.charge_id in [p.charge_id for p in runtime.payments.refunds_pending()]
    finished = at_once(2, lambda: runtime.payments.finish_refund(paid.charge_id, now))
    [done] = [p for p in finished if p is not None]  # one call moved it; the other is told so
    assert done.state == PaymentState.REFUNDED == runtime.payments.get_payment(paid.charge_id).state
    assert [entry["step"] for entry in done.log] == ["paid", "refund started", "refunded"]
    assert runtime.payments.abort_refund(paid.charge_id, now, "late") is None  # nothing to abort
    assert paid.charge_id not in [p.charge_id for p in runtime.payments.refunds_pending()]


def test_a_refund_refused_for_good_puts_the_credits_back(runtime, user):
    paid = payment(user)
    runtime.payments.record_payment(paid)
    job = put_job(runtime, f"u{next(ids)}", user, State.VALIDATED)
    runtime.jobs.admit_job(job.job_id, user, PAID_ONLY, datetime.now(UTC))  # one credit used
    now = datetime.now(UTC)
    started = runtime.payments.start_refund(paid.charge_id, now, by="operator 99", whole=False)
    assert started.credits_removed == 9 and runtime.payments.credits_of(user).held == 0
    aborted = runtime.payments.abort_refund(paid.charge_id, now, "Bad Request: CHARGE_NOT_FOUND")
    assert aborted.state == PaymentState.PAID and runtime.payments.credits_of(user).held == 9
    assert aborted.log[-1]["step"] == "refund aborted" and aborted.log[-1]["error"].endswith("NOT_FOUND")
    assert runtime.payments.start_refund("stx-unknown", now, by="user", whole=True) is None


def test_each_ledger_step_logs_a_payment_line_for_the_analytics(runtime, user, caplog):
    caplog.set_level("INFO", logger="imagebot.edges.store")
    paid = payment(user)
    runtime.payments.record_payment(paid)
    runtime.payments.record_payment(paid)  # redelivered: nothing moved, nothing logged
    job = put_job(runtime, f"u{next(ids)}", user, State.VALIDATED)
    runtime.jobs.admit_job(job.job_id, user, PAID_ONLY, datetime.now(UTC))
    # Given back by a cancel (in its own transaction), not a failure: a failed job's credits
    # could be returned by the e2e stack's sweep, in another process, when it shares the emulator.
    runtime.jobs.cancel_job(job.job_id, PAID_ONLY, datetime.now(UTC), timedelta(minutes=2))
    runtime.payments.start_refund(paid.charge_id, datetime.now(UTC), by="user", whole=True)
    lines = [r for r in caplog.records if getattr(r, "stage", None) == "payment"]
    assert [(r.reason, getattr(r, "credits", None)) for r in lines] == [
        ("paid", 10),
        ("credits spent", 1),
        ("credits returned", 1),
        ("refund started", 10),
    ]
    assert lines[0].stars == 50 and all(paid.charge_id not in r.getMessage() for r in lines)


# -- a set: charged once, by its first job admitted, for the jobs still to be drawn ------------


def set_of(runtime) -> tuple[str, list[str]]:
    """A set's record (before its jobs, as chat/triptych.start_set makes it): its id, its jobs'."""
    set_id = f"u{next(ids)}"
    job_ids = [f"{set_id}-{style}" for style in STYLES]
    runtime.jobs.create_set(set_id, job_ids, datetime.now(UTC))
    return set_id, job_ids


def validated_set(runtime, user: int) -> tuple[str, list[str]]:
    """A set whose three jobs are all made and validated, none admitted yet."""
    set_id, job_ids = set_of(runtime)
    for job_id in job_ids:
        put_job(runtime, job_id, user, State.VALIDATED, set_id=set_id)
    return set_id, job_ids


def test_a_pause_after_a_set_was_charged_leaves_its_other_jobs_queued_with_their_shares(runtime, user):
    runtime.payments.record_payment(payment(user))
    set_id, job_ids = validated_set(runtime, user)
    now = datetime.now(UTC)
    first, _ = runtime.jobs.admit_job(job_ids[0], user, PAID_ONLY, now)
    others = [runtime.jobs.admit_job(job_id, user, PAID_ONLY, now, paused=True)[0] for job_id in job_ids[1:]]
    assert [(job.state, job.paid_credits) for job in [first, *others]] == [(State.QUEUED, 1)] * 3
    assert runtime.payments.credits_of(user) == Credits(held=7, bought=10, spent=3)


def test_a_job_of_a_set_failed_before_its_admission_returns_its_share_once_however_many_callers(
    runtime, user
):
    runtime.payments.record_payment(payment(user))
    set_id, (ghibli, realistic, pixel) = validated_set(runtime, user)
    runtime.jobs.admit_job(ghibli, user, PAID_ONLY, datetime.now(UTC))  # the set charged: three
    assert runtime.payments.return_credits(realistic, datetime.now(UTC)) == 0  # may still be drawn
    runtime.jobs.move_job(realistic, State.FAILED, datetime.now(UTC), reason="dead-lettered")
    returned = at_once(4, lambda: runtime.payments.return_credits(realistic, datetime.now(UTC)))
    assert sorted(returned) == [0, 0, 0, 1]
    failed = runtime.jobs.get_job(realistic)
    assert (failed.paid_credits, failed.credits_returned) == (1, True)
    assert runtime.payments.credits_of(user) == Credits(held=8, bought=10, spent=2)
    queued, _ = runtime.jobs.admit_job(pixel, user, PAID_ONLY, datetime.now(UTC))
    assert (queued.state, queued.paid_credits) == (State.QUEUED, 1)
    assert runtime.payments.return_credits(realistic, datetime.now(UTC)) == 0


def test_a_sets_first_admission_leaves_out_a_job_closed_already_and_counts_one_not_created_yet(runtime, user):
    runtime.payments.record_payment(payment(user))
    set_id, (ghibli, realistic, pixel) = set_of(runtime)
    put_job(runtime, ghibli, user, State.REJECTED, set_id=set_id, reason="blocked")  # refused at creation
    put_job(runtime, realistic, user, State.VALIDATED, set_id=set_id)
    admitted, _ = runtime.jobs.admit_job(realistic, user, PAID_ONLY, datetime.now(UTC))
    assert (admitted.state, admitted.paid_credits) == (State.QUEUED, 1)
    assert runtime.db.collection("sets").document(set_id).get().get("paid_credits") == [0, 1, 1]
    assert runtime.payments.credits_of(user) == Credits(held=8, bought=10, spent=2)
    assert runtime.payments.return_credits(ghibli, datetime.now(UTC)) == 0  # it cost nothing
    # The pixel job, counted while it was not there yet, is refused at its creation: its share back.
    put_job(runtime, pixel, user, State.REJECTED, set_id=set_id, reason="blocked")
    assert runtime.payments.return_credits(pixel, datetime.now(UTC)) == 1
    assert runtime.payments.return_credits(pixel, datetime.now(UTC)) == 0
    assert runtime.payments.credits_of(user) == Credits(held=9, bought=10, spent=1)


def test_a_sets_three_jobs_admitted_at_once_charge_it_once(runtime, user):
    runtime.payments.record_payment(payment(user))
    set_id, job_ids = validated_set(runtime, user)
    now = datetime.now(UTC)
    with ThreadPoolExecutor(3) as pool:
        admitted = list(
            pool.map(lambda job_id: runtime.jobs.admit_job(job_id, user, PAID_ONLY, now)[0], job_ids)
        )
    assert [(job.state, job.paid_credits) for job in admitted] == [(State.QUEUED, 1)] * 3
    assert runtime.payments.credits_of(user) == Credits(held=7, bought=10, spent=3)
