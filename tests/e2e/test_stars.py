"""Telegram Stars through the whole local stack: buying a pack, a payment delivered three times
at once, a paid job that dead-letters, refunds (one through a failed refundStarPayment, one
Telegram makes itself), a checkout refused while paused, and /paysupport and /terms.

The user presses what a user presses (the fake Bot API plays Telegram: the invoice, the
pre-checkout query, the successful_payment, the Stars ledger); the bot runs as deployed (the
webhook, validate_prompt's worker, rate_limit, the GPU service, report_failure, the sweep).
After each test the ledger's invariant is checked on the emulator's documents for every user
the test touched (tests/support/ledger.py).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from threading import Barrier
from typing import Any

import pytest
from google.cloud import firestore, pubsub_v1
from imagebot.config import Settings
from imagebot.core import keyboards, ledger, texts
from imagebot.core.ops import Mode
from imagebot.core.payments import PACKS, REFUND_WINDOW, Credits, Pack

from local.fake_telegram_client import FakeTelegram, InvoicePaid, RecordedCall
from local.stack import LocalStack
from local.wiring import MAX_DELIVERY_ATTEMPTS
from tests.conftest import PROJECT
from tests.e2e.conftest import E2E_OPERATOR_ID, E2E_SUPPORT_CONTACT
from tests.support.events import unique_ids
from tests.support.ledger import assert_balanced
from tests.support.pubsub import TopicTap
from tests.support.waits import answered, nothing_more_for, wait_until

pytestmark = pytest.mark.e2e
chats = unique_ids(27_000_000)  # each module its own users: the stack is shared

PACK = PACKS[0]
STEP_TIMEOUT = 60.0  # one hop through the worker, on a busy two-core machine
PICTURE_TIMEOUT = 120.0  # a prompt admitted and queued
THANKS = "⭐ Thank you!"
REFUNDED = "↩ Refunded:"


# -- fixtures and helpers --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def db(stack: LocalStack) -> firestore.Client:
    return firestore.Client(project=PROJECT)


@pytest.fixture
def buyers(db: firestore.Client) -> Iterator[list[int]]:
    """The users a test touched; afterwards their books must balance on the emulator."""
    users: list[int] = []
    yield users
    assert assert_balanced(db, users) == len(users)


def new_buyer(buyers: list[int]) -> int:
    user_id = next(chats)
    buyers.append(user_id)
    return user_id


def to_chat(chat_id: int) -> Callable[[RecordedCall], bool]:
    return lambda call: call.ok and str(call.params.get("chat_id")) == str(chat_id)


def texts_to(telegram: FakeTelegram, chat_id: int, since: int, starting: str) -> list[str]:
    """What the bot sent to the chat (new messages) after `since` that starts so."""
    sent = [
        call.params.get("text", "") for call in telegram.calls("sendMessage", since) if to_chat(chat_id)(call)
    ]
    return [text for text in sent if text.startswith(starting)]


def statuses(telegram: FakeTelegram, chat_id: int, since: int, containing: str) -> list[str]:
    """The texts the bot sent or edited into the chat after `since` that contain these words
    (a job's end is told in its status message, edited)."""
    calls = telegram.calls("sendMessage", since) + telegram.calls("editMessageText", since)
    sent = [call.params.get("text", "") for call in calls if to_chat(chat_id)(call)]
    return [text for text in sent if containing in text]


def reply_to(telegram: FakeTelegram, chat_id: int, since: int, starting: str) -> RecordedCall:
    return telegram.wait_for_call(
        "sendMessage",
        lambda call: to_chat(chat_id)(call) and call.params.get("text", "").startswith(starting),
        since=since,
        timeout=STEP_TIMEOUT,
    )


def buttons(call: RecordedCall) -> list[dict[str, Any]]:
    return [button for row in call.param_json("reply_markup")["inline_keyboard"] for button in row]


def credits(db: firestore.Client, user_id: int) -> Credits:
    user = db.collection("users").document(str(user_id)).get().to_dict() or {}
    return Credits.from_doc(user.get("credits"))


def job_state(db: firestore.Client, job_id: str) -> str | None:
    return (db.collection("jobs").document(job_id).get().to_dict() or {}).get("state")


def payment_doc(db: firestore.Client, charge_id: str) -> dict[str, Any]:
    return db.collection("payments").document(charge_id).get().to_dict() or {}


def quiet_stack(stack: LocalStack, condition: Callable[[], Any] = lambda: True) -> None:
    """Nothing more can come: whatever a duplicate would have sent is recorded by now."""
    nothing_more_for(stack, condition)


def invoice_for(telegram: FakeTelegram, user_id: int, pack: Pack = PACK) -> dict[str, Any]:
    """/buy, then the pack's button: the invoice message the bot sent."""
    since = telegram.last_seq()
    assert telegram.send_text(chat_id=user_id, user_id=user_id, text="/buy").status == 200
    menu = reply_to(telegram, user_id, since, texts.render("en", "buy_packs", days=REFUND_WINDOW.days)[:10])
    data = keyboards.encode("buy", pack.pack_id)
    assert data in [button["callback_data"] for button in buttons(menu)]
    pressed = telegram.press_button(user_id, user_id, menu.result["message_id"], data)
    assert pressed.status == 200
    return telegram.wait_for_invoice(user_id, since=since, timeout=STEP_TIMEOUT)


def buy(telegram: FakeTelegram, db: firestore.Client, user_id: int, pack: Pack = PACK) -> InvoicePaid:
    """A pack bought and credited, its thanks told."""
    since = telegram.last_seq()
    paid = telegram.pay_invoice(user_id, user_id, invoice_for(telegram, user_id, pack)["message_id"])
    assert paid.accepted and paid.telegram_payment_charge_id, paid
    reply_to(telegram, user_id, since, THANKS)
    wait_until(lambda: payment_doc(db, paid.telegram_payment_charge_id or "").get("told"), 10, "told marked")
    return paid


def daily_limit(stack: LocalStack) -> int:
    """The free pictures a day, as the stack's functions read them."""
    return int(stack.config.extra_env.get("DAILY_QUOTA", Settings.daily_quota))


def free_pictures_used_up(stack: LocalStack, db: firestore.Client, user_id: int) -> None:
    """Today's free pictures all used (as after a day's drawing), the burst still full: the
    next picture is paid with a credit."""
    now = datetime.now(UTC)
    burst = int(stack.config.extra_env.get("RATE_BURST", Settings.rate_burst))
    db.collection("users").document(str(user_id)).set(
        {
            "quota": {
                "tokens": float(burst),
                "updated_at": now.timestamp(),
                "day": now.date().isoformat(),
                "used_today": daily_limit(stack),
            }
        },
        merge=True,
    )


@contextmanager
def frozen(stack: LocalStack, process: str) -> Iterator[None]:
    """SIGSTOP one of the stack's processes: pushes to it wait at its socket (as behind a busy
    instance) and reach it together once it goes on."""
    group = stack.supervisor.processes[process].pid
    os.killpg(group, signal.SIGSTOP)
    try:
        yield
    finally:
        os.killpg(group, signal.SIGCONT)


def gpu_frozen(stack: LocalStack) -> AbstractContextManager[None]:
    """The GPU service held still: a job's push waits, and the job stays queued."""
    return frozen(stack, "gpu_service")


@contextmanager
def paused(telegram: FakeTelegram, db: firestore.Client) -> Iterator[None]:
    """The operator's /pause, and their /resume afterwards whatever happens: the stack is shared."""

    def mode() -> str | None:
        return (db.collection("config").document("ops").get().to_dict() or {}).get("mode")

    def operator_says(command: str, wanted: Mode) -> None:
        sent = telegram.send_text(chat_id=E2E_OPERATOR_ID, user_id=E2E_OPERATOR_ID, text=command)
        assert sent.status == 200
        wait_until(lambda: mode() == wanted.value, STEP_TIMEOUT, f"{command} setting the mode {wanted}")

    operator_says("/pause", Mode.PAUSED)
    try:
        yield
    finally:
        operator_says("/resume", Mode.NORMAL)


# -- buying ----------------------------------------------------------------------------------------


def test_buying_a_pack_credits_it_and_tells_the_buyer_once(stack, telegram, db, buyers):
    user_id = new_buyer(buyers)
    since = telegram.last_seq()
    invoice = invoice_for(telegram, user_id)
    [sent] = [call for call in telegram.calls("sendInvoice", since) if to_chat(user_id)(call)]
    assert sent.params["currency"] == "XTR" and not sent.params.get("provider_token")
    assert [price["amount"] for price in sent.param_json("prices")] == [PACK.stars]
    assert invoice["invoice"]["total_amount"] == PACK.stars

    paid = telegram.pay_invoice(user_id, user_id, invoice["message_id"])
    # Telegram's 10 seconds are met by answering in the webhook's own response.
    assert paid.answered and paid.accepted and paid.error_message is None, paid
    answer = paid.pre_checkout.reply
    assert answer is not None and answer.via_webhook_response
    assert (answer.method, answer.params["ok"]) == ("answerPreCheckoutQuery", True)
    assert paid.successful_payment is not None and paid.successful_payment.status == 200

    reply_to(telegram, user_id, since, THANKS)
    charge_id = paid.telegram_payment_charge_id or ""
    quiet_stack(stack, lambda: payment_doc(db, charge_id).get("told"))
    assert texts_to(telegram, user_id, since, THANKS) == [
        texts.render("en", "paid", pictures=PACK.pictures, held=PACK.pictures)
    ]
    assert credits(db, user_id) == Credits(bought=PACK.pictures, held=PACK.pictures)
    stored = payment_doc(db, charge_id)
    assert (stored["user_id"], stored["stars"], stored["credits"], stored["state"]) == (
        user_id,
        PACK.stars,
        PACK.pictures,
        "paid",
    )
    assert [p.amount for p in telegram.star_payments() if p.user_id == user_id] == [PACK.stars]

    limits = telegram.last_seq()
    assert telegram.send_text(chat_id=user_id, user_id=user_id, text="/limits").status == 200
    shown = texts.render("en", "limits_credits", held=PACK.pictures).strip()
    wait_until(
        lambda: statuses(telegram, user_id, limits, shown), STEP_TIMEOUT, "/limits showing the credits"
    )


def test_the_same_successful_payment_three_times_at_once_credits_once_and_tells_once(
    stack, telegram, db, buyers
):
    """Telegram redelivers an update it thinks lost: the very same update (same update_id,
    same charge id) three times at once. The worker is held still meanwhile, so that all four
    published copies reach it together rather than one after another."""
    user_id = new_buyer(buyers)
    invoice = invoice_for(telegram, user_id)
    since = telegram.last_seq()
    start = Barrier(3)

    def at_once(update: dict[str, Any]) -> int | None:
        with FakeTelegram(stack.telegram_api_base) as client:
            start.wait()
            return client.send_update(update).status

    with frozen(stack, "validate_prompt"):
        paid = telegram.pay_invoice(user_id, user_id, invoice["message_id"])
        assert paid.accepted and paid.update is not None, paid
        with ThreadPoolExecutor(3) as pool:
            assert list(pool.map(at_once, [paid.update] * 3)) == [200, 200, 200]
    reply_to(telegram, user_id, since, THANKS)
    charge_id = paid.telegram_payment_charge_id or ""
    quiet_stack(stack, lambda: payment_doc(db, charge_id).get("told"))

    assert credits(db, user_id) == Credits(bought=PACK.pictures, held=PACK.pictures)
    assert len(texts_to(telegram, user_id, since, THANKS)) == 1
    assert [p.amount for p in telegram.star_payments() if p.user_id == user_id] == [PACK.stars]
    steps = [entry.get("step") for entry in payment_doc(db, charge_id).get("log", [])]
    assert len(steps) == len(set(steps)), steps  # each step of the ledger logged once


def test_a_payment_whose_every_try_fails_is_credited_and_told_once_from_its_dead_letter(
    stack, telegram, db, buyers
):
    """The thanks cannot be sent on any of the worker's five tries (sendMessage answers 500):
    the update dead-letters, and report_failure, which cannot apologise for Stars taken, credits
    the payment (once: the worker's tries recorded it already) and tells the buyer, once."""
    user_id = new_buyer(buyers)
    invoice = invoice_for(telegram, user_id)
    since = telegram.last_seq()
    telegram.inject_fault("sendMessage", error_code=500, count=MAX_DELIVERY_ATTEMPTS)
    try:
        paid = telegram.pay_invoice(user_id, user_id, invoice["message_id"])
        assert paid.accepted and paid.successful_payment is not None, paid
        update_id = str(paid.successful_payment.update_id)
        answered(stack, "report_failure", 1, timeout=PICTURE_TIMEOUT, update_id=update_id)
    finally:
        telegram.clear_faults()
    charge_id = paid.telegram_payment_charge_id or ""
    quiet_stack(stack, lambda: payment_doc(db, charge_id).get("told"))

    tries = [
        call.status
        for call in telegram.calls("sendMessage", since)
        if str(call.params.get("chat_id")) == str(user_id)
    ]
    assert tries == [500] * MAX_DELIVERY_ATTEMPTS + [200], tries
    assert texts_to(telegram, user_id, since, THANKS) == [
        texts.render("en", "paid", pictures=PACK.pictures, held=PACK.pictures)
    ]
    assert credits(db, user_id) == Credits(bought=PACK.pictures, held=PACK.pictures)


# -- spending ----------------------------------------------------------------------------------------


def test_a_paid_job_that_dead_letters_gives_its_credit_back_once_and_says_so(stack, telegram, db, buyers):
    """The user's free pictures are used up, so the picture takes a credit. Its generation
    message runs out of attempts (the GPU is held still, and the message is dead-lettered as
    Pub/Sub does after five: the same data and attributes, with the dead-letter source, on
    generation-jobs-dead): report_failure fails the job, the credit comes back once, and the
    user is told so with the apology."""
    user_id = new_buyer(buyers)
    buy(telegram, db, user_id)
    free_pictures_used_up(stack, db, user_id)
    since = telegram.last_seq()
    generation = TopicTap(PROJECT, "generation-jobs")
    publisher = pubsub_v1.PublisherClient()
    with gpu_frozen(stack):
        sent = telegram.send_text(
            chat_id=user_id, user_id=user_id, text=f"/pixel a paid kite, chat {user_id}"
        )
        assert sent.status == 200
        job_id = f"u{sent.update_id}"

        def job_message() -> list[pubsub_v1.types.PubsubMessage]:
            return [
                m for m in generation.drain(expect=1, timeout=2.0) if m.attributes.get("job_id") == job_id
            ]

        [message] = wait_until(job_message, PICTURE_TIMEOUT, f"{job_id} published to the GPU", interval=0.5)
        job = db.collection("jobs").document(job_id).get().to_dict() or {}
        assert (job["state"], job["paid_credits"]) == ("queued", 1), job
        assert credits(db, user_id) == Credits(bought=PACK.pictures, spent=1, held=PACK.pictures - 1)

        source = f"projects/{PROJECT}/subscriptions/generation-jobs-gpu"
        dead_letter = {
            **message.attributes,
            "CloudPubSubDeadLetterSourceSubscription": source,
            "CloudPubSubDeadLetterSourceDeliveryCount": "5",
        }
        topic = publisher.topic_path(PROJECT, "generation-jobs-dead")
        publisher.publish(topic, message.data, **dead_letter).result(timeout=10)

        def failed() -> dict[str, Any] | None:
            doc = db.collection("jobs").document(job_id).get().to_dict() or {}
            return doc if doc.get("state") == "failed" and doc.get("credits_returned") else None

        wait_until(failed, STEP_TIMEOUT, f"{job_id} failed, its credit back")
        assert credits(db, user_id) == Credits(bought=PACK.pictures, held=PACK.pictures)
        back = texts.render("en", "credits_back", n=1).strip()
        wait_until(lambda: statuses(telegram, user_id, since, back), STEP_TIMEOUT, "the user told")
    # The GPU wakes to the push it held; whatever it does, the job stays failed and given back.
    quiet_stack(stack)

    [apology] = statuses(telegram, user_id, since, back)
    photos = [call for call in telegram.calls("sendPhoto", since) if to_chat(user_id)(call)]
    assert photos == [], "a picture whose credit was given back was delivered as well"
    assert apology.startswith("Sorry, I couldn't draw"), apology
    assert credits(db, user_id) == Credits(bought=PACK.pictures, held=PACK.pictures)
    done = db.collection("jobs").document(job_id).get().to_dict() or {}
    assert (done["state"], done["credits_returned"]) == ("failed", True), done


def test_a_paid_picture_queued_when_the_operator_pauses_waits_its_buyer_is_told_and_it_comes(
    stack, telegram, db, buyers
):
    """Sales stop while paused, but an admitted paid picture keeps its place: its buyer hears
    once that it waits and the credits are safe, and after /resume it is drawn, the credit spent."""
    user_id = new_buyer(buyers)
    buy(telegram, db, user_id)
    free_pictures_used_up(stack, db, user_id)
    since = telegram.last_seq()
    waits = texts.render("en", "paused_paid_waits")
    with gpu_frozen(stack):
        sent = telegram.send_text(
            chat_id=user_id, user_id=user_id, text=f"/pixel a paused lamp, chat {user_id}"
        )
        job_id = f"u{sent.update_id}"
        wait_until(lambda: job_state(db, job_id) == "queued", PICTURE_TIMEOUT, f"{job_id} queued")
        with paused(telegram, db):
            reply_to(telegram, user_id, since, waits)
    telegram.wait_for_call("sendPhoto", to_chat(user_id), since=since, timeout=PICTURE_TIMEOUT)
    quiet_stack(stack, lambda: job_state(db, job_id) == "delivered")

    assert texts_to(telegram, user_id, since, waits) == [waits]
    assert credits(db, user_id) == Credits(bought=PACK.pictures, spent=1, held=PACK.pictures - 1)
    assert len([call for call in telegram.calls("sendPhoto", since) if to_chat(user_id)(call)]) == 1


def test_a_paid_picture_cancelled_before_drawing_gives_its_credit_back_once(stack, telegram, db, buyers):
    """Cancel while queued: the credit comes back (told in the cancelled status), and no free
    picture with it, since none was used; a second tap gives nothing more."""
    user_id = new_buyer(buyers)
    buy(telegram, db, user_id)
    free_pictures_used_up(stack, db, user_id)
    since = telegram.last_seq()
    back = texts.render("en", "credits_back", n=1).strip()
    with gpu_frozen(stack):
        sent = telegram.send_text(chat_id=user_id, user_id=user_id, text=f"/pixel a paid owl, chat {user_id}")
        job_id = f"u{sent.update_id}"
        data = keyboards.encode("cancel", job_id)
        status = telegram.wait_for_call(
            "sendMessage",
            lambda call: to_chat(user_id)(call) and data in str(call.params.get("reply_markup")),
            since=since,
            timeout=PICTURE_TIMEOUT,
        )
        assert credits(db, user_id) == Credits(bought=PACK.pictures, spent=1, held=PACK.pictures - 1)
        for force in (False, True):  # a double tap
            pressed = telegram.press_button(user_id, user_id, status.result["message_id"], data, force=force)
            assert pressed.status == 200
            wait_until(lambda: statuses(telegram, user_id, since, back), STEP_TIMEOUT, "the credit told back")
    quiet_stack(stack, lambda: job_state(db, job_id) == "cancelled")

    assert len(statuses(telegram, user_id, since, back)) == 1
    assert credits(db, user_id) == Credits(bought=PACK.pictures, held=PACK.pictures)
    user = db.collection("users").document(str(user_id)).get().to_dict() or {}
    assert user["quota"]["used_today"] == daily_limit(stack)  # the credit paid, not a free picture
    assert [call for call in telegram.calls("sendPhoto", since) if to_chat(user_id)(call)] == []


# -- refunds ---------------------------------------------------------------------------------------


def refund(telegram: FakeTelegram, user_id: int, charge_id: str) -> tuple[int, int]:
    """/refund, then the payment's button; the seq before the press, and the press's update id."""
    since = telegram.last_seq()
    assert telegram.send_text(chat_id=user_id, user_id=user_id, text="/refund").status == 200
    menu = reply_to(telegram, user_id, since, "Packs you can have refunded")
    data = keyboards.encode("refund", ledger.short_id(charge_id))
    assert [button["callback_data"] for button in buttons(menu)] == [data]
    pressed_at = telegram.last_seq()
    pressed = telegram.press_button(user_id, user_id, menu.result["message_id"], data)
    assert pressed.status == 200
    return pressed_at, pressed.update_id


def refund_calls(telegram: FakeTelegram, charge_id: str, since: int) -> list[RecordedCall]:
    return [
        call
        for call in telegram.calls("refundStarPayment", since)
        if call.params.get("telegram_payment_charge_id") == charge_id
    ]


def assert_refunded_once(
    stack: LocalStack, telegram: FakeTelegram, db: firestore.Client, user_id: int, charge_id: str, since: int
) -> list[RecordedCall]:
    reply_to(telegram, user_id, since, REFUNDED)
    quiet_stack(stack, lambda: payment_doc(db, charge_id).get("state") == "refunded")
    assert credits(db, user_id) == Credits(bought=PACK.pictures, refunded=PACK.pictures)
    assert payment_doc(db, charge_id)["credits_removed"] == PACK.pictures
    stars = telegram.star_payment(charge_id)
    assert (stars.refunded, stars.refund_count, stars.refund_refusals) == (True, 1, 0)
    assert texts_to(telegram, user_id, since, REFUNDED) == [
        texts.render("en", "refund_made", stars=PACK.stars, credits=PACK.pictures, held=0)
    ]
    return refund_calls(telegram, charge_id, since)


def test_a_refund_removes_the_credits_and_returns_the_stars_once(stack, telegram, db, buyers):
    user_id = new_buyer(buyers)
    charge_id = buy(telegram, db, user_id).telegram_payment_charge_id or ""
    since, _ = refund(telegram, user_id, charge_id)
    calls = assert_refunded_once(stack, telegram, db, user_id, charge_id, since)
    assert [call.status for call in calls] == [200]
    assert int(calls[0].params["user_id"]) == user_id


def test_a_refund_whose_first_try_fails_is_made_on_the_retry_and_only_once(stack, telegram, db, buyers):
    """refundStarPayment answers 500 once: the step raises, Pub/Sub redelivers the press, and
    the refund under way (REFUNDING, its credits already out) is carried on, not started again."""
    user_id = new_buyer(buyers)
    charge_id = buy(telegram, db, user_id).telegram_payment_charge_id or ""
    telegram.inject_fault("refundStarPayment", error_code=500, count=1)
    try:
        since, _ = refund(telegram, user_id, charge_id)
        calls = assert_refunded_once(stack, telegram, db, user_id, charge_id, since)
    finally:
        telegram.clear_faults()
    assert [call.status for call in calls] == [500, 200]
    steps = [entry.get("step") for entry in payment_doc(db, charge_id)["log"]]
    assert steps.count("refund started") == 1 and steps.count("refunded") == 1, steps


def test_an_operators_refund_of_a_payment_is_made_once_and_both_are_told(stack, telegram, db, buyers):
    user_id = new_buyer(buyers)
    charge_id = buy(telegram, db, user_id).telegram_payment_charge_id or ""
    since = telegram.last_seq()
    command = f"/refund {charge_id}"
    assert telegram.send_text(chat_id=E2E_OPERATOR_ID, user_id=E2E_OPERATOR_ID, text=command).status == 200
    calls = assert_refunded_once(stack, telegram, db, user_id, charge_id, since)
    assert [call.status for call in calls] == [200]
    told = texts.render("en", "refund_op_made", stars=PACK.stars, user=str(user_id), credits=PACK.pictures)
    assert texts_to(telegram, E2E_OPERATOR_ID, since, "↩") == [told]
    assert payment_doc(db, charge_id)["refund_by"] == f"operator {E2E_OPERATOR_ID}"


def test_a_refund_whose_tries_all_fail_is_carried_on_by_the_sweep_once(stack, telegram, db, buyers):
    """refundStarPayment fails on each of the press's five deliveries: the message
    dead-letters with the credits out and the Stars not back (REFUNDING). The sweep carries it on
    once the refund has waited as long as a job may (JOB_DEADLINE_SECONDS, an hour here: the
    test ages the payment's log rather than wait), and the Stars go back once."""
    user_id = new_buyer(buyers)
    charge_id = buy(telegram, db, user_id).telegram_payment_charge_id or ""
    telegram.inject_fault("refundStarPayment", error_code=500, count=MAX_DELIVERY_ATTEMPTS)
    try:
        since, update_id = refund(telegram, user_id, charge_id)
        wait_until(
            lambda: len(refund_calls(telegram, charge_id, since)) >= MAX_DELIVERY_ATTEMPTS,
            PICTURE_TIMEOUT,
            "every delivery of the press tried the refund",
        )
        answered(stack, "report_failure", 1, update_id=str(update_id))
    finally:
        telegram.clear_faults()
    ref = db.collection("payments").document(charge_id)
    held_back = ref.get().to_dict() or {}
    assert held_back["state"] == "refunding", held_back
    assert credits(db, user_id) == Credits(bought=PACK.pictures, refunded=PACK.pictures)
    assert telegram.star_payment(charge_id).refund_count == 0

    two_hours_ago = datetime.now(UTC) - timedelta(hours=2)
    ref.update({"log": [{**entry, "at": two_hours_ago} for entry in held_back["log"]]})
    calls = assert_refunded_once(stack, telegram, db, user_id, charge_id, since)
    assert [call.status for call in calls] == [500] * MAX_DELIVERY_ATTEMPTS + [200]


def test_an_operators_refund_of_a_partly_used_pack_removes_what_is_left(stack, telegram, db, buyers):
    """A user may not have a used pack refunded (Telegram refunds whole), an operator may: the
    credits still held are removed, the one spent on a delivered picture stays spent."""
    user_id = new_buyer(buyers)
    charge_id = buy(telegram, db, user_id).telegram_payment_charge_id or ""
    free_pictures_used_up(stack, db, user_id)
    since = telegram.last_seq()
    sent = telegram.send_text(chat_id=user_id, user_id=user_id, text=f"/pixel a paid moth, chat {user_id}")
    job_id = f"u{sent.update_id}"
    telegram.wait_for_call("sendPhoto", to_chat(user_id), since=since, timeout=PICTURE_TIMEOUT)
    quiet_stack(stack, lambda: job_state(db, job_id) == "delivered")
    assert telegram.send_text(chat_id=user_id, user_id=user_id, text="/refund").status == 200
    reply_to(telegram, user_id, since, texts.render("en", "refund_none", days=REFUND_WINDOW.days))

    command = f"/refund {charge_id}"
    assert telegram.send_text(chat_id=E2E_OPERATOR_ID, user_id=E2E_OPERATOR_ID, text=command).status == 200
    reply_to(telegram, user_id, since, REFUNDED)
    quiet_stack(stack, lambda: payment_doc(db, charge_id).get("state") == "refunded")
    left = PACK.pictures - 1
    assert credits(db, user_id) == Credits(bought=PACK.pictures, spent=1, refunded=left)
    assert payment_doc(db, charge_id)["credits_removed"] == left
    assert telegram.star_payment(charge_id).refund_count == 1
    assert [call.status for call in refund_calls(telegram, charge_id, since)] == [200]


def test_a_refund_telegram_makes_itself_takes_the_credits_out_once_and_tells_the_buyer(
    stack, telegram, db, buyers
):
    """Telegram's support (or a dispute) returns a payment's Stars without the bot: its
    refunded_payment message is the bot's only word of it, and the pack's credits leave with
    the Stars, so the books still balance. The bot asks Telegram for nothing."""
    user_id = new_buyer(buyers)
    charge_id = buy(telegram, db, user_id).telegram_payment_charge_id or ""
    since = telegram.last_seq()
    made = telegram.refund_by_telegram(charge_id)
    assert made.delivery.status == 200 and "refunded_payment" in made.message
    assert assert_refunded_once(stack, telegram, db, user_id, charge_id, since) == []
    assert payment_doc(db, charge_id)["refund_by"] == "telegram"


def test_the_refunded_payment_after_the_bots_own_refund_changes_nothing(stack, telegram, db, buyers):
    """Telegram tells the chat of every refund, the bot's own too: that word, delivered, moves
    nothing in the ledger and says nothing more to the buyer."""
    user_id = new_buyer(buyers)
    charge_id = buy(telegram, db, user_id).telegram_payment_charge_id or ""
    since, _ = refund(telegram, user_id, charge_id)
    assert_refunded_once(stack, telegram, db, user_id, charge_id, since)
    [echo] = [m for m in telegram.chat(user_id)["messages"] if "refunded_payment" in m]
    before, after_refund = payment_doc(db, charge_id), telegram.last_seq()

    sent = telegram.send_update({"message": echo})
    assert sent.status == 200
    answered(stack, "validate_prompt", 1, update_id=str(sent.update_id))
    quiet_stack(stack)
    assert payment_doc(db, charge_id) == before
    assert credits(db, user_id) == Credits(bought=PACK.pictures, refunded=PACK.pictures)
    assert [call for call in telegram.calls("sendMessage", after_refund) if to_chat(user_id)(call)] == []


# -- checkout while paused, and what Telegram requires of sellers ----------------------------------


def test_a_pre_checkout_while_paused_is_refused_with_a_reason(stack, telegram, db, buyers):
    """The invoice was sent before the pause; pressing Pay during it is refused, with words
    Telegram shows the user, and no Stars are taken."""
    user_id = new_buyer(buyers)
    invoice = invoice_for(telegram, user_id)
    with paused(telegram, db):
        paid = telegram.pay_invoice(user_id, user_id, invoice["message_id"])
    assert paid.answered and not paid.accepted, paid
    assert paid.error_message == texts.render("en", "checkout_paused")
    assert paid.pre_checkout.reply is not None and paid.pre_checkout.reply.via_webhook_response
    assert paid.successful_payment is None
    assert [p for p in telegram.star_payments() if p.user_id == user_id] == []
    transcript = telegram.chat(user_id)["transcript"]
    assert [e["error_message"] for e in transcript if e.get("event") == "payment_failed"] == [
        paid.error_message
    ]
    assert credits(db, user_id) == Credits()


@pytest.mark.parametrize(
    ("command", "title"), [("/paysupport", "<b>Payments and refunds</b>"), ("/terms", "<b>Terms of sale</b>")]
)
def test_paysupport_and_terms_are_answered(stack, telegram, command, title):
    user_id = next(chats)
    sent = telegram.send_text(chat_id=user_id, user_id=user_id, text=command)
    assert sent.status == 200
    assert sent.reply is not None and sent.reply.method == "sendMessage" and sent.reply.ok
    text = sent.reply.params["text"]
    assert text.startswith(title) and "/refund" in text, text
    if command == "/paysupport":
        assert E2E_SUPPORT_CONTACT in text and "/terms" in text
