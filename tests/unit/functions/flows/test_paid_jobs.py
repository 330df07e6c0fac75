"""Telegram Stars credits on in-memory edges: admission spends free pictures first, then
credits; every way a paid job ends without a picture gives them back once and says so in the
message that tells of the end; the fake ledger's steps are idempotent; the books balance."""

import json
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from imagebot.core.jobs import State
from imagebot.core.payments import Credits, Payment, PaymentState
from imagebot.core.updates import Button, encode_event
from imagebot.core.vocabulary import FLAGGED
from imagebot.edges.telegram import TelegramError
from imagebot.flows import rate_limit, report_failure, report_progress, sweep_stuck_jobs, validate_prompt
from imagebot.steps.failure import fail

from tests.support.events import pubsub_event_data
from tests.support.fakes import FakeServices
from tests.support.jobs import job_doc
from tests.support.ledger import assert_balanced

DEAD = {"CloudPubSubDeadLetterSourceSubscription": "gpu", "CloudPubSubDeadLetterSourceDeliveryCount": "5"}
BACK_1 = "💫 Your 1 credit is back."


def bought(rt: FakeServices, credits: int = 10, charge_id: str = "charge-1", user_id: int = 7) -> Payment:
    payment = Payment(charge_id, user_id, "p10", stars=50, credits=credits, paid_at=rt.now())
    return rt.payments.record_payment(payment)[0]


def paid_job(rt: FakeServices, job_id: str = "u1", state: State = State.QUEUED, **fields) -> None:
    """A job admission paid with one credit, left in `state`."""
    bought(rt)
    rt.jobs.free_left = 0
    rt.jobs.docs[job_id] = job_doc(job_id, 7, State.VALIDATED, status_message_id=55, **fields)
    rate_limit.handle_message(pubsub_event_data(job_id.encode(), job_id=job_id), rt)
    if state != State.QUEUED:
        rt.jobs.move_job(job_id, state, rt.now())
    rt.bot.calls.clear()


def test_free_pictures_first_then_a_credit_then_a_refusal():
    rt = FakeServices()
    bought(rt, credits=1)
    rt.jobs.free_left = 1
    for n in (1, 2, 3):
        rt.jobs.docs[f"u{n}"] = job_doc(f"u{n}", 7, State.VALIDATED)
        rate_limit.handle_message(pubsub_event_data(f"u{n}".encode(), job_id=f"u{n}"), rt)
    jobs = [rt.jobs.get_job(f"u{n}") for n in (1, 2, 3)]
    assert [(job.state, job.paid_credits) for job in jobs] == [
        (State.QUEUED, 0),
        (State.QUEUED, 1),
        (State.REJECTED, 0),
    ]
    assert jobs[2].reason == "daily"
    assert rt.payments.credits_of(7) == Credits(held=0, bought=1, spent=1)
    assert_balanced(rt)


def test_a_dead_lettered_paid_job_gives_its_credit_back_once_and_says_so():
    rt = FakeServices()
    paid_job(rt, state=State.GENERATING)
    for _ in range(3):  # redelivered dead letters
        report_failure.handle_dead_letter(pubsub_event_data(b"{}", job_id="u1", **DEAD), rt)
    assert rt.payments.credits_of(7) == Credits(held=10, bought=10)
    assert rt.payments.logged.count(("credits returned", "u1")) == 1
    [told] = rt.bot.texts()
    assert told.startswith("Sorry, I couldn't draw") and told.endswith(BACK_1)
    assert_balanced(rt)


def test_the_apology_the_sweep_sends_later_says_the_credit_is_back_too():
    rt = FakeServices()
    paid_job(rt, state=State.GENERATING)
    for method in ("editMessageText", "sendMessage"):  # the status edited, or a new message
        rt.bot.fail_next(method, TelegramError(method, 500, "down"))
    report_failure.handle_dead_letter(pubsub_event_data(b"{}", job_id="u1", **DEAD), rt)
    assert rt.bot.texts() == [] and rt.payments.credits_of(7).held == 10
    rt.clock += timedelta(seconds=rt.settings.delivery_retry_max_seconds)
    sweep_stuck_jobs.sweep(rt)
    [told] = rt.bot.texts()
    assert told.endswith(BACK_1)
    assert_balanced(rt)


def test_the_sweep_returns_credits_a_crash_left_owed():
    """An instance lost between the job's move to failed and the return: the sweep gives them back."""
    rt = FakeServices()
    paid_job(rt, state=State.GENERATING)
    rt.jobs.move_job("u1", State.FAILED, rt.now(), reason="dead-lettered")  # and then the crash
    assert rt.payments.jobs_owed_credits()[0].job_id == "u1"
    sweep_stuck_jobs.sweep(rt)
    sweep_stuck_jobs.sweep(rt)
    assert rt.payments.credits_of(7).held == 10 and rt.payments.jobs_owed_credits() == []
    assert rt.payments.logged.count(("credits returned", "u1")) == 1
    assert_balanced(rt)


def test_one_jobs_error_leaves_the_sweep_to_return_the_others_credits(monkeypatch):
    rt = FakeServices()
    for job_id in ("u1", "u2"):
        paid_job(rt, job_id, state=State.GENERATING)
        rt.jobs.move_job(job_id, State.FAILED, rt.now(), reason="dead-lettered")  # and then the crash
    return_credits = rt.payments.return_credits

    def unavailable_for_u1(job_id, now):
        if job_id == "u1":
            raise RuntimeError("firestore unavailable")
        return return_credits(job_id, now)

    monkeypatch.setattr(rt.payments, "return_credits", unavailable_for_u1)
    sweep_stuck_jobs.sweep(rt)
    assert [job.job_id for job in rt.payments.jobs_owed_credits()] == ["u1"]  # u2's came back
    monkeypatch.setattr(rt.payments, "return_credits", return_credits)
    sweep_stuck_jobs.sweep(rt)  # the next tick
    assert rt.payments.jobs_owed_credits() == []
    assert_balanced(rt)


def test_a_job_stuck_past_its_deadline_fails_with_its_credit_back():
    rt = FakeServices()
    paid_job(rt, state=State.GENERATING)
    rt.clock += timedelta(seconds=rt.settings.job_deadline_seconds + 1)
    assert sweep_stuck_jobs.sweep(rt) == 1
    assert rt.payments.credits_of(7).held == 10 and rt.bot.texts()[0].endswith(BACK_1)


def test_a_flagged_picture_gives_its_credit_back_and_says_so():
    rt = FakeServices()
    paid_job(rt, state=State.GENERATING)
    rt.jobs.move_job("u1", State.REJECTED, rt.now(), reason=FLAGGED)  # the GPU's safety checker
    rejected = json.dumps({"version": 1, "job_id": "u1", "state": "rejected", "reason": FLAGGED}).encode()
    report_progress.handle_message(pubsub_event_data(rejected), rt)
    report_progress.handle_message(pubsub_event_data(rejected), rt)  # redelivered
    assert rt.payments.credits_of(7).held == 10
    assert all(
        text.startswith("I can't send that picture") and text.endswith(BACK_1) for text in rt.bot.texts()
    )
    assert_balanced(rt)


def press_cancel(rt: FakeServices, update_id: int, job_id: str) -> None:
    button = Button(update_id, 7, 7, 55, f"cb{update_id}", "cancel", (job_id,))
    validate_prompt.handle_message(pubsub_event_data(encode_event(button)), rt)


def test_a_cancel_before_drawing_gives_the_credit_back_once():
    rt = FakeServices()
    paid_job(rt)
    press_cancel(rt, 10, "u1")
    press_cancel(rt, 11, "u1")
    assert rt.payments.credits_of(7).held == 10 and rt.jobs.get_job("u1").credits_returned
    assert set(rt.bot.texts()) == {"✖ Cancelled. It doesn't count towards today's limit.\n" + BACK_1}
    assert_balanced(rt)


def test_a_cancel_while_drawing_keeps_the_credit():
    rt = FakeServices()
    paid_job(rt, state=State.GENERATING)
    press_cancel(rt, 10, "u1")
    assert rt.payments.credits_of(7).held == 9 and rt.bot.texts() == [
        "✖ Cancelled. I won't send this picture."
    ]
    assert_balanced(rt)


def test_a_failed_job_of_a_set_returns_its_share_in_the_sets_message():
    rt = FakeServices()
    bought(rt)
    rt.jobs.free_left = 0
    rt.jobs.create_set("s", ["s-ghibli", "s-pixel"], rt.now())
    for job_id in ("s-ghibli", "s-pixel"):
        rt.jobs.docs[job_id] = job_doc(job_id, 7, State.VALIDATED, set_id="s")
        rate_limit.handle_message(pubsub_event_data(job_id.encode(), job_id=job_id), rt)
    assert rt.jobs.sets["s"]["paid_credits"] == [1, 1]  # charged once, by the first
    rt.bot.calls.clear()  # the queued statuses
    fail("s-ghibli", "dead-lettered", rt)
    fail("s-pixel", "dead-lettered", rt)
    assert rt.payments.credits_of(7).held == 10
    [message] = [call for call in rt.bot.calls if call.method == "sendMessage"]
    assert message.params["text"].endswith("💫 Your 2 credits are back.")
    assert_balanced(rt)


# -- the fake ledger's own steps, which starschat's flows drive -----------------------------------


def test_a_payment_recorded_three_times_credits_once():
    rt = FakeServices()
    first = bought(rt)
    again = [rt.payments.record_payment(first)[1] for _ in range(2)]
    assert again == [False, False] and rt.payments.credits_of(7) == Credits(held=10, bought=10)
    assert rt.payments.payment_by_short_id(7, rt.payments.docs["charge-1"]["short_id"]) == first
    assert rt.payments.payment_by_short_id(8, rt.payments.docs["charge-1"]["short_id"]) is None
    assert_balanced(rt)


def test_a_refund_started_twice_removes_once_and_finishes_once():
    rt = FakeServices()
    bought(rt)
    started = [rt.payments.start_refund("charge-1", rt.now(), by="user", whole=True) for _ in range(2)]
    assert [p.state for p in started] == [PaymentState.REFUNDING] * 2
    assert rt.payments.credits_of(7) == Credits(bought=10, refunded=10)
    assert rt.payments.refunds_pending() == [started[0]]
    done = rt.payments.finish_refund("charge-1", rt.now())
    assert rt.payments.finish_refund("charge-1", rt.now()) is None  # moved nothing: the first tells
    assert done.state == PaymentState.REFUNDED and rt.payments.refunds_pending() == []
    assert [entry["step"] for entry in done.log] == ["paid", "refund started", "refunded"]
    assert rt.payments.abort_refund("charge-1", rt.now(), "late") is None  # nothing to abort
    assert rt.payments.get_payment("charge-1") == done
    assert_balanced(rt)


def test_an_aborted_refund_puts_the_credits_back():
    rt = FakeServices()
    bought(rt)
    rt.payments.start_refund("charge-1", rt.now(), by="operator 99", whole=False)
    aborted = rt.payments.abort_refund("charge-1", rt.now(), "Bad Request: CHARGE_NOT_FOUND")
    assert aborted.state == PaymentState.PAID and rt.payments.credits_of(7) == Credits(held=10, bought=10)
    assert rt.payments.start_refund("unknown", rt.now(), by="user", whole=True) is None
    assert_balanced(rt)


def test_the_checker_catches_books_that_do_not_balance():
    rt = FakeServices()
    bought(rt)
    rt.users.docs[7]["credits"]["held"] = 11  # a credit from nowhere
    try:
        assert_balanced(rt)
    except AssertionError as error:
        assert "user 7" in str(error)
    else:
        raise AssertionError("an unbalanced ledger passed")


# -- any sequence of steps keeps the books balanced ---------------------------------------------

STEPS = st.lists(
    st.tuples(
        st.sampled_from(["buy", "job", "fail", "cancel", "flag", "refund", "finish", "abort", "sweep"]),
        st.integers(0, 3),  # which payment or job the step is about
        st.booleans(),  # a whole refund (the user's) or what is left (an operator's)
    ),
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(STEPS)
def test_any_sequence_of_ledger_steps_keeps_the_books_balanced(steps):
    rt = FakeServices()
    rt.jobs.free_left = 1
    jobs: list[str] = []
    for n, (step, which, whole) in enumerate(steps):
        charge, job_id = f"charge-{which}", jobs[which % len(jobs)] if jobs else None
        if step == "buy":
            bought(rt, credits=which + 1, charge_id=charge)
        elif step == "job":
            jobs.append(f"u{n}")
            rt.jobs.docs[f"u{n}"] = job_doc(f"u{n}", 7, State.VALIDATED, cost=which % 2 + 1)
            rate_limit.handle_message(pubsub_event_data(f"u{n}".encode(), job_id=f"u{n}"), rt)
        elif step == "fail" and job_id:
            fail(job_id, "dead-lettered", rt)
        elif step == "cancel" and job_id:
            press_cancel(rt, 1000 + n, job_id)
        elif step == "flag" and job_id and rt.jobs.move_job(job_id, State.REJECTED, rt.now(), reason=FLAGGED):
            rejected = {"version": 1, "job_id": job_id, "state": "rejected", "reason": FLAGGED}
            report_progress.handle_message(pubsub_event_data(json.dumps(rejected).encode()), rt)
        elif step == "refund":
            rt.payments.start_refund(charge, rt.now(), by="user" if whole else "operator 99", whole=whole)
        elif step == "finish":
            rt.payments.finish_refund(charge, rt.now())
        elif step == "abort":
            rt.payments.abort_refund(charge, rt.now(), "Bad Request: refused")
        elif step == "sweep":
            sweep_stuck_jobs.sweep(rt)
        assert_balanced(rt)
    assert rt.payments.jobs_owed_credits() == []  # every paid job's end gave its credits back at once
