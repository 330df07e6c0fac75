"""The ledger's pure steps (core/ledger.py) and admission's spending of credits (quota.admit)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from imagebot.core import ledger
from imagebot.core.jobs import State
from imagebot.core.payments import Credits, Payment, PaymentState
from imagebot.core.quota import QuotaPolicy, admit

from tests.support.jobs import job_in

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = QuotaPolicy(burst=100, refill_seconds=1.0, daily_limit=2)


def payment(credits=10, **fields):
    return Payment("charge-1", user_id=7, pack_id="p10", stars=50, credits=credits, paid_at=NOW, **fields)


# -- spending: free pictures first, then credits --------------------------------------------------


def test_free_pictures_go_first_then_credits():
    first = admit(None, POLICY, NOW.timestamp(), cost=1, held=5)
    assert first.admitted and first.paid_credits == 0 and first.state.used_today == 1
    grid = admit(first.state, POLICY, NOW.timestamp(), cost=2, held=5)  # one free left, one credit
    assert grid.admitted and grid.paid_credits == 1 and grid.state.used_today == 2
    paid = admit(grid.state, POLICY, NOW.timestamp(), cost=2, held=5)
    assert paid.admitted and paid.paid_credits == 2 and paid.state.used_today == 2


def test_a_daily_refusal_only_when_free_and_credits_together_fall_short():
    spent = admit(admit(None, POLICY, NOW.timestamp()).state, POLICY, NOW.timestamp()).state
    refused = admit(spent, POLICY, NOW.timestamp(), cost=2, held=1)
    assert (refused.admitted, refused.reason, refused.paid_credits) == (False, "daily", 0)
    assert admit(spent, POLICY, NOW.timestamp(), cost=2, held=2).admitted


def test_credits_do_not_skip_the_pace():
    """The token bucket paces everyone: a buyer with credits is still told to slow down."""
    policy = replace(POLICY, burst=1, refill_seconds=60.0, daily_limit=0)
    first = admit(None, policy, NOW.timestamp(), held=5)
    second = admit(first.state, policy, NOW.timestamp(), held=5)
    assert first.admitted and first.paid_credits == 1
    assert (second.admitted, second.reason, second.paid_credits) == (False, "rate", 0)


@given(
    st.lists(st.tuples(st.sampled_from([1, 2, 3]), st.integers(0, 30000), st.booleans()), max_size=40),
    st.integers(0, 20),
)
def test_spending_and_giving_back_keep_the_books_balanced(steps, bought):
    """Whatever the sequence of jobs (each a cost, seconds later, and whether it fails), the
    credits balance and never go below zero, and a job pays with credits exactly what the day's
    free pictures left uncovered."""
    credits, state, now, kept = Credits().add(bought), None, NOW.timestamp(), 0
    used = {}  # the day's free pictures, as this test counts them
    for cost, seconds, fails in steps:
        now += seconds
        day = datetime.fromtimestamp(now, UTC).date()
        admission = admit(state, POLICY, now, cost, credits.held)
        state = admission.state
        if not admission.admitted:
            assert admission.paid_credits == 0
            continue
        assert admission.paid_credits == max(0, cost - (POLICY.daily_limit - used.get(day, 0)))
        used[day] = used.get(day, 0) + cost - admission.paid_credits
        credits = credits.spend(admission.paid_credits)
        if fails:
            credits = credits.give_back(admission.paid_credits)
        else:
            kept += admission.paid_credits
        assert credits.balanced()
    assert credits.spent == kept and credits.bought == bought


# -- a paid job's end ---------------------------------------------------------------------------


def test_a_job_that_ends_without_a_picture_owes_its_credits_once():
    paid = {"paid_credits": 2}
    assert ledger.owed_credits(job_in("u1", 7, State.FAILED, **paid)) == 2
    assert ledger.owed_credits(job_in("u1", 7, State.REJECTED, **paid)) == 2
    assert ledger.owed_credits(job_in("u1", 7, State.FAILED, credits_returned=True, **paid)) == 0
    assert ledger.credits_given_back(job_in("u1", 7, State.FAILED, credits_returned=True, **paid)) == 2
    assert ledger.owed_credits(job_in("u1", 7, State.FAILED)) == 0  # a free job
    for going in (State.QUEUED, State.GENERATING, State.GENERATED, State.DELIVERED):
        assert ledger.owed_credits(job_in("u1", 7, going, **paid)) == 0


def test_a_cancel_returns_credits_only_before_drawing_started():
    before = job_in("u1", 7, State.CANCELLED, paid_credits=1)
    drawing = replace(before, times={**before.times, State.GENERATING.value: NOW})
    assert ledger.owed_credits(before) == 1 and ledger.owed_credits(drawing) == 0


@given(st.integers(1, 3), st.integers(1, 4), st.data())
def test_a_sets_credits_fall_on_its_last_jobs_and_add_up(cost_each, count, data):
    paid = data.draw(st.integers(0, cost_each * count))
    shares = ledger.set_shares(paid, cost_each, count)
    assert sum(shares) == paid and all(0 <= share <= cost_each for share in shares)
    assert shares == sorted(shares)


@given(st.integers(1, 3), st.lists(st.booleans(), min_size=1, max_size=4), st.data())
def test_a_sets_credits_fall_only_on_its_jobs_still_to_be_drawn(cost_each, live, data):
    paid = data.draw(st.integers(0, cost_each * sum(live)))
    shares = ledger.shares_of_live(paid, cost_each, live)
    assert len(shares) == len(live) and sum(shares) == paid
    assert all(share == 0 for share, alive in zip(shares, live, strict=True) if not alive)
    assert [s for s, alive in zip(shares, live, strict=True) if alive] == ledger.set_shares(
        paid, cost_each, sum(live)
    )


def test_a_job_of_a_set_closed_before_the_charge_is_not_counted_one_not_created_yet_is():
    assert ledger.still_to_draw(None)  # chat/triptych.start_set has not created it yet
    for state in (State.VALIDATED, State.QUEUED, State.GENERATING):
        assert ledger.still_to_draw(job_in("s-pixel", 7, state))
    for state in (State.REJECTED, State.FAILED, State.CANCELLED):
        assert not ledger.still_to_draw(job_in("s-pixel", 7, state))


def test_a_sets_first_admission_charges_itself_and_each_other_job_still_to_be_drawn():
    ids = ["s-ghibli", "s-realistic", "s-pixel"]
    found = {"s-realistic": job_in("s-realistic", 7, State.REJECTED)}  # s-pixel not created yet
    assert ledger.live_members(ids, "s-ghibli", found) == [True, False, True]


ADMITTED_SET = {
    "jobs": ["s-ghibli", "s-realistic", "s-pixel"],
    "admission": "admitted",
    "paid_credits": [0, 1, 1],
}


def test_a_jobs_share_is_read_by_the_sets_job_order_and_only_once_admitted():
    assert [ledger.set_share(ADMITTED_SET, j) for j in ADMITTED_SET["jobs"]] == [0, 1, 1]
    assert ledger.set_share(ADMITTED_SET, "s-other") == 0
    assert ledger.set_share({**ADMITTED_SET, "admission": "daily"}, "s-pixel") == 0
    assert ledger.set_share({"jobs": ADMITTED_SET["jobs"]}, "s-pixel") == 0  # not decided yet
    assert ledger.set_share({**ADMITTED_SET, "paid_credits": [1]}, "s-pixel") == 0  # an older set doc


def test_a_job_of_a_set_never_admitted_owes_its_share_once():
    failed = job_in("s-pixel", 7, State.FAILED, set_id="s")
    charged = ledger.charged_by_set(failed, ADMITTED_SET)
    assert charged.paid_credits == 1 and ledger.owed_credits(charged) == 1
    assert ledger.credits_given_back(charged) == 1
    returned = replace(charged, credits_returned=True)
    assert ledger.charged_by_set(returned, ADMITTED_SET) == returned and ledger.owed_credits(returned) == 0
    free = job_in("s-ghibli", 7, State.FAILED, set_id="s")  # the free picture's share
    assert ledger.owed_credits(ledger.charged_by_set(free, ADMITTED_SET)) == 0
    going = job_in("s-pixel", 7, State.VALIDATED, set_id="s")  # may still be admitted and drawn
    assert ledger.owed_credits(ledger.charged_by_set(going, ADMITTED_SET)) == 0
    admitted = replace(going, state=State.FAILED, paid_credits=1)  # its own admission wrote it
    assert ledger.charged_by_set(admitted, ADMITTED_SET) == admitted
    assert ledger.owed_credits(ledger.charged_by_set(failed, {**ADMITTED_SET, "admission": "rate"})) == 0


def test_the_credit_line_in_both_languages():
    assert ledger.credits_back_text("en", 0) == ""
    assert ledger.credits_back_text("en", 1) == "\n💫 Your 1 credit is back."
    assert ledger.credits_back_text("en", 3) == "\n💫 Your 3 credits are back."
    assert ledger.credits_back_text("ru", 2) == "\n💫 Возвращаем вам 2 кредита."
    assert ledger.credits_back_text("ru", 5) == "\n💫 Возвращаем вам 5 кредитов."


# -- payments and refunds -----------------------------------------------------------------------


def test_a_payment_is_logged_and_credited():
    recorded, credits = ledger.paid(payment(), Credits())
    assert credits == Credits(held=10, bought=10)
    assert recorded.log == [{"at": NOW, "step": "paid", "credits": 10}]


def test_a_whole_refund_takes_the_packs_credits_out_once():
    started, credits = ledger.refund_started(payment(), Credits().add(12), NOW, by="user", whole=True)
    assert started.state == PaymentState.REFUNDING and started.credits_removed == 10
    assert started.refund_by == "user"
    assert credits == Credits(held=2, bought=12, refunded=10) and credits.balanced()
    assert [entry["step"] for entry in started.log] == ["refund started"]
    assert ledger.refund_started(started, credits, NOW, by="user", whole=True) is None


def test_an_operators_refund_takes_what_is_left():
    used = Credits().add(10).spend(7)
    started, credits = ledger.refund_started(payment(), used, NOW, by="operator 99", whole=False)
    assert started.credits_removed == 3 and credits.held == 0 and credits.balanced()


def test_a_whole_refund_never_leaves_a_debt():
    assert ledger.refund_started(payment(), Credits().add(10).spend(1), NOW, by="user", whole=True) is None


def test_finish_and_abort_only_from_refunding():
    started, credits = ledger.refund_started(payment(), Credits().add(10), NOW, by="user", whole=True)
    later = NOW + timedelta(seconds=5)
    finished = ledger.refund_finished(started, later)
    assert finished.state == PaymentState.REFUNDED and finished.log[-1] == {
        "at": later,
        "step": "refunded",
        "stars": 50,
    }
    assert (
        ledger.refund_finished(finished, later) is None and ledger.refund_finished(payment(), later) is None
    )
    aborted, restored = ledger.refund_aborted(started, credits, later, "Bad Request: CHARGE_NOT_FOUND")
    assert aborted.state == PaymentState.PAID and aborted.credits_removed == 0 and aborted.refund_by is None
    assert (
        restored == Credits(held=10, bought=10)
        and aborted.log[-1]["error"] == "Bad Request: CHARGE_NOT_FOUND"
    )
    assert ledger.refund_aborted(finished, credits, later, "x") is None


def test_a_short_id_fits_a_button():
    short = ledger.short_id("stxAbCdEf" * 20)
    assert len(short) == 12 and short == ledger.short_id("stxAbCdEf" * 20) != ledger.short_id("other")
