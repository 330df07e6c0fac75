"""Telegram Stars with in-memory edges: the webhook's pre-checkout answers, /buy and its
invoices, a payment credited and told once, refunds (a user's, an operator's, the sweep's) with
Telegram failing in each way it can, /limits, /stats, and the buyers told on a pause. The
ledger's books are checked after each flow (tests/support/ledger.assert_balanced)."""

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from imagebot.chat.lookups import WebhookLookups
from imagebot.chat.payments import PaymentNotRecorded, carry_refund
from imagebot.core import ledger, payments
from imagebot.core.jobs import State
from imagebot.core.ops import Mode, Ops
from imagebot.core.payments import PaymentState
from imagebot.core.updates import Button, Command, PaymentMade, PaymentRefunded, decode_event, encode_event
from imagebot.edges.telegram import TelegramError
from imagebot.flows import (
    budget_guard,
    rate_limit,
    report_failure,
    sweep_stuck_jobs,
    telegram_webhook,
    validate_prompt,
)

from tests.support.events import pubsub_event_data
from tests.support.fakes import SETTINGS, FakeServices
from tests.support.jobs import job_doc
from tests.support.ledger import assert_balanced

PACK = payments.PACKS[0]
BUYER = 7
OPERATOR = 99  # SETTINGS.operator_ids


def webhook(rt, update, lookups=True):
    raw = json.dumps(update).encode()
    return telegram_webhook.handle_update(
        raw, SETTINGS, rt.publisher, rt.users.get_user, WebhookLookups(rt) if lookups else None
    )


def pre_checkout(user_id=BUYER, payload=None, amount=PACK.stars, language="en"):
    query = {
        "id": "pcq-1",
        "from": {"id": user_id, "language_code": language},
        "currency": "XTR",
        "total_amount": amount,
        "invoice_payload": payload or payments.invoice_payload(PACK.pack_id, BUYER),
    }
    return {"update_id": 40, "pre_checkout_query": query}


def paused(rt):
    rt.config.set_ops(Ops(mode=Mode.PAUSED))


# -- the webhook's pre-checkout answer ------------------------------------------------------


def test_a_good_checkout_is_let_through_in_the_webhooks_reply_and_nothing_is_published():
    rt = FakeServices()
    reply = webhook(rt, pre_checkout())
    assert reply.status == 200
    assert reply.body == {"method": "answerPreCheckoutQuery", "pre_checkout_query_id": "pcq-1", "ok": True}
    assert rt.publisher.published == []


@pytest.mark.parametrize(
    ("arrange", "update", "says"),
    [
        (paused, pre_checkout(), "Sales are paused"),
        (None, pre_checkout(payload="p999:7"), "no longer on sale"),
        (None, pre_checkout(user_id=8), "made for someone else"),
        (None, pre_checkout(amount=PACK.stars - 1), "out of date"),
    ],
)
def test_a_checkout_is_refused_with_a_reason(arrange, update, says):
    rt = FakeServices()
    if arrange:
        arrange(rt)
    body = webhook(rt, update).body
    assert body["method"] == "answerPreCheckoutQuery" and body["ok"] is False
    assert says in body["error_message"]


def test_a_checkout_whose_mode_cannot_be_read_is_refused_in_the_payers_language():
    class Broken:
        def operating_mode(self):
            raise TimeoutError("firestore is slow")

    raw = json.dumps(pre_checkout(language="ru")).encode()
    body = telegram_webhook.handle_update(
        raw, SETTINGS, FakeServices().publisher, lambda _: {}, Broken()
    ).body
    assert body["ok"] is False and body["error_message"].startswith("У нас что-то пошло не так")
    assert webhook(FakeServices(), pre_checkout(), lookups=False).body["ok"] is False


def test_a_pre_checkout_query_reads_off_the_event_loop():
    parsed = telegram_webhook.parse_body(json.dumps(pre_checkout()).encode(), SETTINGS)
    assert telegram_webhook.reads_documents(parsed)


@pytest.mark.parametrize(
    ("field", "kind", "event"),
    [("successful_payment", "payment", PaymentMade), ("refunded_payment", "refunded", PaymentRefunded)],
)
def test_a_payment_or_its_refund_is_published_for_the_worker(field, kind, event):
    rt = FakeServices()
    message = {"message_id": 8, "chat": {"id": BUYER, "type": "private"}, "from": {"id": BUYER}}
    paid = {
        "currency": "XTR",
        "total_amount": PACK.stars,
        "invoice_payload": "p10:7",
        "telegram_payment_charge_id": "stx-1",
        "provider_payment_charge_id": "",
    }
    reply = webhook(rt, {"update_id": 41, "message": {**message, field: paid}})
    assert reply.status == 200 and reply.body == {}
    ((topic, data, attributes),) = rt.publisher.published
    assert (topic, attributes["kind"]) == (SETTINGS.prompts_topic, kind)
    assert isinstance(decode_event(data), event)


@pytest.mark.parametrize(("language", "words"), [("en", "refunded within 14 days"), ("ru", "14 дней")])
def test_paysupport_and_terms_are_answered_in_the_webhooks_reply(language, words):
    rt = FakeServices()
    for name, heading in (("paysupport", ("Payments", "Оплата")), ("terms", ("Terms", "Условия"))):
        update = {
            "update_id": 42,
            "message": {
                "message_id": 3,
                "chat": {"id": BUYER, "type": "private"},
                "from": {"id": BUYER, "language_code": language},
                "text": f"/{name}",
            },
        }
        body = webhook(rt, update).body
        assert body["method"] == "sendMessage" and body["chat_id"] == BUYER
        assert heading[language == "ru"] in body["text"] and words in body["text"]
    assert rt.publisher.published == []


def test_paysupport_names_the_operators_contact_when_one_is_set():
    settings = replace(SETTINGS, support_contact="@imagebot_help")
    command = Command(1, BUYER, BUYER, 3, "paysupport")
    asker = telegram_webhook.Asker("en")
    assert "operators: @imagebot_help." in telegram_webhook.paysupport_reply(command, settings, asker)["text"]


# -- in the worker ----------------------------------------------------------------------------


def deliver(rt, event):
    validate_prompt.handle_message(pubsub_event_data(encode_event(event)), rt)


def fails_for_now(rt, method, event):
    """The worker's first try at the event meets a 502 from `method` and raises, so Pub/Sub
    will redeliver it: the message it redelivers."""
    rt.bot.fail_next(method, TelegramError(method, 502, "Bad Gateway"))
    message = pubsub_event_data(encode_event(event))
    with pytest.raises(TelegramError):
        validate_prompt.handle_message(message, rt)
    return message


ids = iter(range(1000, 100000))


def command(name, args="", user_id=BUYER, language="en"):
    return Command(next(ids), user_id, user_id, 3, name, args, language)


def press(action, *args, user_id=BUYER):
    return Button(next(ids), user_id, user_id, 5, "cb", action, args, "en")


def payment_made(charge_id="stx-1", payload=None, amount=PACK.stars, user_id=BUYER, update_id=None):
    return PaymentMade(
        update_id=update_id or next(ids),
        chat_id=user_id,
        user_id=user_id,
        message_id=8,
        charge_id=charge_id,
        provider_charge_id="",
        currency="XTR",
        total_amount=amount,
        invoice_payload=payload or payments.invoice_payload(PACK.pack_id, user_id),
        language_code="en",
    )


def bought(rt, charge_id="stx-1", user_id=BUYER):
    deliver(rt, payment_made(charge_id, user_id=user_id))
    return rt.payments.get_payment(charge_id)


def test_buy_shows_the_packs_and_a_pack_button_sends_its_invoice():
    rt = FakeServices()
    deliver(rt, command("buy"))
    shown = rt.bot.calls[-1]
    buttons = [row[0]["callback_data"] for row in shown.params["reply_markup"]["inline_keyboard"]]
    assert buttons == [f"buy:{pack.pack_id}" for pack in payments.PACKS]
    assert "Picture packs" in shown.params["text"]

    deliver(rt, press("buy", PACK.pack_id))
    invoice = rt.bot.calls[-1]
    assert invoice.method == "sendInvoice" and invoice.chat_id == BUYER
    assert invoice.params["payload"] == f"{PACK.pack_id}:{BUYER}" and invoice.params["stars"] == PACK.stars
    assert invoice.params["title"] == f"{PACK.pictures} pictures"


def test_while_paused_sales_are_paused():
    rt = FakeServices()
    paused(rt)
    deliver(rt, command("buy"))
    deliver(rt, press("buy", PACK.pack_id))
    assert rt.bot.methods() == ["sendMessage", "sendMessage"]
    assert all("Sales are paused" in text for text in rt.bot.texts())


def test_a_payment_delivered_three_times_credits_once_and_is_told_once():
    rt = FakeServices()
    event = payment_made()
    for update_id in (event.update_id, event.update_id + 50000, event.update_id + 50001):
        deliver(rt, replace(event, update_id=update_id))  # the same payment in three updates
    assert rt.payments.credits_of(BUYER).held == PACK.pictures
    assert rt.bot.texts() == [
        f"⭐ Thank you! {PACK.pictures} pictures added. You now have {PACK.pictures} credits."
    ]
    assert rt.payments.get_payment("stx-1").told
    assert assert_balanced(rt) == 1


def test_a_payment_whose_invoice_does_not_match_is_credited_as_paid_and_reported(caplog):
    rt = FakeServices()
    deliver(rt, payment_made(payload="p10:8"))  # someone else's invoice, paid by BUYER
    assert rt.payments.credits_of(BUYER).held == PACK.pictures and rt.payments.credits_of(8).held == 0
    assert any(r.levelname == "ERROR" and "not as invoiced" in r.getMessage() for r in caplog.records)
    assert_balanced(rt)


def test_limits_show_the_credits_and_the_daily_refusal_points_to_buy():
    rt = FakeServices()
    bought(rt)
    deliver(rt, command("limits"))
    assert f"Credits: {PACK.pictures}" in rt.bot.texts()[-1]
    assert "/buy" in rate_limit.refusal_text("en", "daily", 3600)
    assert "/buy" in rate_limit.refusal_text("ru", "daily", 3600)


def refund_button(rt, user_id=BUYER):
    deliver(rt, command("refund", user_id=user_id))
    markup = rt.bot.calls[-1].params.get("reply_markup")
    return None if markup is None else markup["inline_keyboard"][0][0]["callback_data"]


def test_refund_lists_the_refundable_packs_and_a_press_refunds_one_whole():
    rt = FakeServices()
    payment = bought(rt)
    assert refund_button(rt) == f"refund:{ledger.short_id(payment.charge_id)}"
    deliver(rt, press("refund", ledger.short_id(payment.charge_id)))
    assert [c.params for c in rt.bot.calls if c.method == "refundStarPayment"] == [
        {"telegram_payment_charge_id": "stx-1"}
    ]
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDED
    assert rt.payments.credits_of(BUYER).held == 0 and rt.payments.credits_of(BUYER).refunded == PACK.pictures
    assert "Refunded: 50 ⭐" in rt.bot.texts()[-1]
    assert_balanced(rt)
    assert refund_button(rt) is None and "Nothing to refund" in rt.bot.texts()[-1]


def test_a_refund_that_fails_for_now_is_carried_on_by_the_redelivery_once():
    rt = FakeServices()
    payment = bought(rt)
    pressed = fails_for_now(rt, "refundStarPayment", press("refund", ledger.short_id(payment.charge_id)))
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDING
    assert rt.payments.credits_of(BUYER).held == 0  # the credits went out first

    validate_prompt.handle_message(pressed, rt)  # the redelivery of the same message
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDED
    assert [step for step, _ in rt.payments.logged].count("refund started") == 1  # credits out once
    assert rt.bot.methods().count("refundStarPayment") == 1  # Stars back once
    assert rt.payments.credits_of(BUYER).refunded == PACK.pictures
    assert_balanced(rt)


def test_a_refund_whose_news_fails_for_now_is_told_by_the_redelivered_press_not_refused():
    rt = FakeServices()
    payment = bought(rt)
    # Refunded, but the news did not go.
    pressed = fails_for_now(rt, "sendMessage", press("refund", ledger.short_id(payment.charge_id)))
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDED
    assert not rt.payments.get_payment("stx-1").refund_told

    validate_prompt.handle_message(pressed, rt)  # Pub/Sub's redelivery says it
    assert rt.bot.texts()[-1].startswith("↩ Refunded: 50 ⭐") and rt.payments.get_payment("stx-1").refund_told
    deliver(rt, press("refund", ledger.short_id(payment.charge_id)))  # the button pressed again later
    assert rt.bot.texts()[-1] == "This payment has been refunded already."
    assert rt.bot.methods().count("refundStarPayment") == 1
    assert_balanced(rt)


def test_a_refund_telegram_says_was_made_already_is_finished():
    rt = FakeServices()
    payment = bought(rt)
    already = TelegramError("refundStarPayment", 400, "Bad Request: CHARGE_ALREADY_REFUNDED")
    rt.bot.fail_next("refundStarPayment", already)
    deliver(rt, press("refund", ledger.short_id(payment.charge_id)))
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDED
    assert "Refunded" in rt.bot.texts()[-1]
    assert_balanced(rt)


def test_two_attempts_at_one_refund_tell_the_user_once_and_never_that_it_failed():
    """A second press, or the sweep, beside the first: both ask Telegram, and the later one
    hears that it is refunded already, or (a refusal that came too late) that it cannot be."""
    rt = FakeServices()
    bought(rt)
    started = rt.payments.start_refund("stx-1", rt.now(), by="user", whole=True)
    assert carry_refund(started, rt) == "refunded"
    already = TelegramError("refundStarPayment", 400, "Bad Request: CHARGE_ALREADY_REFUNDED")
    refused = TelegramError("refundStarPayment", 400, "Bad Request: CHARGE_NOT_FOUND")
    rt.bot.fail_next("refundStarPayment", already, refused)
    assert carry_refund(started, rt) == "refunded"
    assert carry_refund(started, rt) == "aborted"
    assert [text.startswith("↩ Refunded") for text in rt.bot.texts()].count(True) == 1
    assert not any("couldn't make this refund" in text for text in rt.bot.texts())
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDED
    assert_balanced(rt)


def test_a_refund_telegram_refuses_for_good_gives_the_credits_back_and_says_so():
    rt = FakeServices()
    payment = bought(rt)
    rt.bot.fail_next(
        "refundStarPayment", TelegramError("refundStarPayment", 400, "Bad Request: CHARGE_NOT_FOUND")
    )
    deliver(rt, press("refund", ledger.short_id(payment.charge_id)))
    assert rt.payments.get_payment("stx-1").state == PaymentState.PAID
    assert rt.payments.credits_of(BUYER).held == PACK.pictures
    assert "couldn't make this refund" in rt.bot.texts()[-1] and "10 credits" in rt.bot.texts()[-1]
    assert_balanced(rt)


def test_a_refund_is_refused_in_words_when_the_pack_is_used_old_or_not_theirs():
    rt = FakeServices()
    payment = bought(rt)
    short = ledger.short_id(payment.charge_id)
    deliver(rt, press("refund", short, user_id=8))  # someone else's button
    assert "no payment to refund" in rt.bot.texts()[-1]

    credits = rt.payments.credits_of(BUYER)
    rt.users.docs[BUYER]["credits"] = credits.spend(1).to_doc()  # one picture drawn with it
    rt.jobs.docs["u1"] = job_doc("u1", BUYER, State.DELIVERED, user_id=BUYER, paid_credits=1)
    deliver(rt, press("refund", short))
    assert "Part of this pack has been used" in rt.bot.texts()[-1]

    rt.users.docs[BUYER]["credits"] = credits.to_doc()
    del rt.jobs.docs["u1"]
    rt.clock += payments.REFUND_WINDOW + timedelta(days=1)
    deliver(rt, press("refund", short))
    assert "more than 14 days ago" in rt.bot.texts()[-1]
    assert "refundStarPayment" not in rt.bot.methods()
    assert rt.payments.get_payment("stx-1").state == PaymentState.PAID
    assert_balanced(rt)


def test_an_operator_refunds_any_payment_and_its_user_loses_what_is_left():
    rt = FakeServices()
    bought(rt)
    credits = rt.payments.credits_of(BUYER)
    rt.users.docs[BUYER]["credits"] = credits.spend(4).to_doc()
    rt.jobs.docs["u1"] = job_doc("u1", BUYER, State.DELIVERED, user_id=BUYER, paid_credits=4)

    deliver(rt, command("refund", "stx-1", user_id=BUYER))  # not an operator: their own list
    assert "refundStarPayment" not in rt.bot.methods()
    for unknown in ("stx-nope", "payments/stx-1", "__stx__"):  # the last two name no document
        deliver(rt, command("refund", unknown, user_id=OPERATOR))
        assert rt.bot.texts()[-1] == "No payment has that charge id."

    deliver(rt, command("refund", "stx-1", user_id=OPERATOR))
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDED
    assert rt.payments.credits_of(BUYER).held == 0 and rt.payments.credits_of(BUYER).refunded == 6
    told = {call.chat_id: call.params["text"] for call in rt.bot.calls if call.method == "sendMessage"}
    assert "6 credits were removed" in told[BUYER]
    assert told[OPERATOR] == f"↩ Refunded 50 ⭐ to user {BUYER}; 6 credits removed."
    assert_balanced(rt)


def test_the_sweep_carries_on_a_refund_left_half_done_once_it_has_settled():
    rt = FakeServices()
    bought(rt)
    rt.payments.start_refund("stx-1", rt.now(), by="user", whole=True)  # then the instance died
    sweep_stuck_jobs.sweep(rt)
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDING  # maybe still in flight

    rt.clock += timedelta(seconds=SETTINGS.job_deadline_seconds + 1)
    rt.bot.fail_next("refundStarPayment", TelegramError("refundStarPayment", 500, "Internal"))
    sweep_stuck_jobs.sweep(rt)  # Telegram down: the next tick tries again
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDING
    sweep_stuck_jobs.sweep(rt)
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDED
    assert rt.bot.methods().count("refundStarPayment") == 1
    sweep_stuck_jobs.sweep(rt)
    assert rt.bot.methods().count("refundStarPayment") == 1
    assert_balanced(rt)


# -- refunds Telegram makes itself (its support, a dispute) ---------------------------------


def refunded_payment(charge_id="stx-1", user_id=BUYER):
    """Telegram's refunded_payment message in the buyer's chat."""
    return PaymentRefunded(
        update_id=next(ids),
        chat_id=user_id,
        user_id=user_id,
        charge_id=charge_id,
        currency="XTR",
        total_amount=PACK.stars,
        invoice_payload=payments.invoice_payload(PACK.pack_id, user_id),
        language_code="en",
    )


def test_a_refund_telegram_made_itself_takes_out_the_credits_still_held_and_says_so(caplog):
    rt = FakeServices()
    bought(rt)
    rt.users.docs[BUYER]["credits"] = rt.payments.credits_of(BUYER).spend(3).to_doc()
    rt.jobs.docs["u1"] = job_doc("u1", BUYER, State.DELIVERED, user_id=BUYER, paid_credits=3)

    deliver(rt, refunded_payment())
    payment = rt.payments.get_payment("stx-1")
    assert (payment.state, payment.refund_by, payment.credits_removed) == (
        PaymentState.REFUNDED,
        "telegram",
        7,
    )
    credits = rt.payments.credits_of(BUYER)
    assert (credits.held, credits.spent, credits.refunded) == (0, 3, 7)  # the 3 spent are the operator's loss
    assert "refundStarPayment" not in rt.bot.methods()  # the Stars went back already
    assert rt.bot.texts()[-1] == (
        "↩ Refunded: 50 ⭐ go back to your Telegram balance, and 7 credits were removed. "
        "You now have 0 credits."
    )
    assert [step for step, _ in rt.payments.logged][-2:] == ["refund started", "refunded"]
    assert any(r.levelname == "WARNING" and "refunded by Telegram" in r.getMessage() for r in caplog.records)
    assert_balanced(rt)


def test_the_refunded_payment_after_the_bots_own_refund_changes_nothing():
    rt = FakeServices()
    payment = bought(rt)
    deliver(rt, press("refund", ledger.short_id(payment.charge_id)))
    before = (rt.payments.get_payment("stx-1"), rt.payments.credits_of(BUYER), len(rt.bot.calls))
    deliver(rt, refunded_payment())
    assert (rt.payments.get_payment("stx-1"), rt.payments.credits_of(BUYER), len(rt.bot.calls)) == before
    assert_balanced(rt)


def test_a_refunded_payment_while_the_bots_refund_is_under_way_leaves_it_to_that_refund():
    rt = FakeServices()
    payment = bought(rt)
    pressed = fails_for_now(rt, "refundStarPayment", press("refund", ledger.short_id(payment.charge_id)))
    deliver(rt, refunded_payment())  # Telegram made it after all; its word comes before the retry
    assert (rt.payments.get_payment("stx-1").state, rt.payments.get_payment("stx-1").refund_by) == (
        PaymentState.REFUNDING,
        "user",
    )
    validate_prompt.handle_message(pressed, rt)
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDED
    assert [step for step, _ in rt.payments.logged].count("refund started") == 1
    assert [text.startswith("↩ Refunded") for text in rt.bot.texts()].count(True) == 1
    assert_balanced(rt)


def test_a_telegram_refund_whose_news_fails_for_now_is_told_by_the_redelivery_once():
    rt = FakeServices()
    bought(rt)
    refunded = fails_for_now(rt, "sendMessage", refunded_payment())
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDED
    validate_prompt.handle_message(refunded, rt)  # Pub/Sub's redelivery
    assert [text.startswith("↩ Refunded") for text in rt.bot.texts()].count(True) == 1
    assert [step for step, _ in rt.payments.logged].count("refund started") == 1
    assert_balanced(rt)


def test_a_refunded_payment_that_overtook_its_payment_waits_for_it(caplog):
    """Telegram refunded a payment whose successful_payment is still being retried: the refund
    is tried again (Pub/Sub) until the payment is recorded, then takes its credits out."""
    rt = FakeServices()
    refunded = pubsub_event_data(encode_event(refunded_payment()))
    with pytest.raises(PaymentNotRecorded):
        validate_prompt.handle_message(refunded, rt)
    bought(rt)
    validate_prompt.handle_message(refunded, rt)  # Pub/Sub's redelivery
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDED
    assert rt.payments.credits_of(BUYER).held == 0
    assert_balanced(rt)


def test_a_refunded_payment_the_ledger_never_holds_is_left_to_an_operator(caplog):
    rt = FakeServices()
    bought(rt)
    dead = pubsub_event_data(
        encode_event(refunded_payment(charge_id="stx-elsewhere")),
        CloudPubSubDeadLetterSourceDeliveryCount="5",
    )
    report_failure.handle_dead_letter(dead, rt)  # its tries ran out: the last one says so
    assert rt.payments.get_payment("stx-1").state == PaymentState.PAID
    assert rt.payments.credits_of(BUYER).held == PACK.pictures
    assert any(r.levelname == "ERROR" and "does not hold" in r.getMessage() for r in caplog.records)
    assert_balanced(rt)


def test_a_dead_lettered_refunded_payment_is_still_recorded_not_apologised_for():
    rt = FakeServices()
    bought(rt)
    told = len(rt.bot.texts())
    dead = pubsub_event_data(encode_event(refunded_payment()), CloudPubSubDeadLetterSourceDeliveryCount="5")
    report_failure.handle_dead_letter(dead, rt)
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDED
    [said] = rt.bot.texts()[told:]
    assert said.startswith("↩ Refunded: 50 ⭐")
    assert_balanced(rt)


def test_stats_show_revenue_refunds_and_credits_in_circulation():
    rt = FakeServices()
    bought(rt, "stx-1")
    bought(rt, "stx-2", user_id=8)
    rt.payments.start_refund("stx-2", rt.now(), by="user", whole=True)
    rt.payments.finish_refund("stx-2", rt.now())
    credits = rt.payments.credits_of(BUYER)
    rt.users.docs[BUYER]["credits"] = credits.spend(3).to_doc()
    deliver(rt, command("stats", user_id=OPERATOR))
    text = rt.bot.texts()[-1]
    assert "Paid: 100 ⭐ in 2 payments · refunded: 50 ⭐ in 1 refund" in text
    assert "Credits held: 7 · spent: 3" in text


def waiting_paid_jobs(rt):
    rt.jobs.docs["q1"] = job_doc("q1", BUYER, State.QUEUED, user_id=BUYER, paid_credits=1)
    rt.jobs.docs["q2"] = job_doc("q2", 8, State.QUEUED, user_id=8)  # free: nothing to tell
    rt.jobs.docs["g1"] = job_doc("g1", 9, State.GENERATING, user_id=9, paid_credits=1)  # drawing already


def test_a_pause_tells_the_users_whose_paid_pictures_wait_once():
    rt = FakeServices()
    waiting_paid_jobs(rt)
    deliver(rt, command("pause", user_id=OPERATOR))
    deliver(rt, command("resume", user_id=OPERATOR))
    deliver(rt, command("pause", user_id=OPERATOR))
    waits = [call for call in rt.bot.calls if "credits are safe" in call.params.get("text", "")]
    assert [call.chat_id for call in waits] == [BUYER]
    assert rt.jobs.get_job("q1").pause_told


def test_a_pause_tells_a_set_of_paid_pictures_once_not_once_a_picture():
    rt = FakeServices()
    for style in ("ghibli", "realistic", "pixel"):
        job_id = f"s1-{style}"
        rt.jobs.docs[job_id] = job_doc(
            job_id, BUYER, State.QUEUED, user_id=BUYER, paid_credits=1, set_id="s1"
        )
    deliver(rt, command("pause", user_id=OPERATOR))
    waits = [call for call in rt.bot.calls if "credits are safe" in call.params.get("text", "")]
    assert [call.chat_id for call in waits] == [BUYER]
    assert all(rt.jobs.get_job(f"s1-{style}").pause_told for style in ("ghibli", "realistic", "pixel"))


def test_a_budget_stop_tells_the_waiting_buyers_too():
    rt = FakeServices()
    waiting_paid_jobs(rt)

    class Starter:
        def start(self, workflow, reason):
            return "execution-1"

    body = {
        "budgetDisplayName": "imagebot",
        "costAmount": 101.0,
        "costIntervalStart": "2026-12-01T08:00:00Z",
        "budgetAmount": 100.0,
        "budgetAmountType": "SPECIFIED_AMOUNT",
        "currencyCode": "EUR",
        "alertThresholdExceeded": 1.0,
    }
    attributes = {"billingAccountId": "01D4EE", "budgetId": "de72", "schemaVersion": "1.0"}
    budget_guard.handle_message(pubsub_event_data(json.dumps(body).encode(), **attributes), rt, Starter())
    assert rt.config.get_ops().mode == Mode.PAUSED
    waits = [call.chat_id for call in rt.bot.calls if "credits are safe" in call.params.get("text", "")]
    assert waits == [BUYER]


def test_a_dead_lettered_payment_is_still_credited_once():
    rt = FakeServices()
    event = payment_made()
    dead = pubsub_event_data(encode_event(event), CloudPubSubDeadLetterSourceDeliveryCount="5")
    report_failure.handle_dead_letter(dead, rt)
    deliver(rt, event)  # and a late delivery of the update itself
    assert rt.payments.credits_of(BUYER).held == PACK.pictures
    assert rt.bot.texts() == [
        f"⭐ Thank you! {PACK.pictures} pictures added. You now have {PACK.pictures} credits."
    ]
    assert_balanced(rt)


def test_a_refund_press_that_ran_out_of_attempts_says_the_refund_is_under_way():
    rt = FakeServices()
    payment = bought(rt)
    pressed = press("refund", ledger.short_id(payment.charge_id))
    fails_for_now(rt, "refundStarPayment", pressed)
    told = len(rt.bot.texts())
    report_failure.handle_dead_letter(
        pubsub_event_data(encode_event(pressed), CloudPubSubDeadLetterSourceDeliveryCount="5"), rt
    )
    [said] = rt.bot.texts()[told:]
    assert said.startswith("↩ Your refund is under way") and f"{PACK.stars} ⭐" in said  # not "send it again"
    assert rt.payments.get_payment("stx-1").state == PaymentState.REFUNDING  # the sweep's to finish
    assert_balanced(rt)


def test_any_other_press_that_ran_out_of_attempts_gets_the_plain_apology():
    rt = FakeServices()
    payment = bought(rt)  # paid, never refunding: its refund press failing for good is a plain failure
    for event in (press("refund", ledger.short_id(payment.charge_id)), press("buy", PACK.pack_id)):
        report_failure.handle_dead_letter(
            pubsub_event_data(encode_event(event), CloudPubSubDeadLetterSourceDeliveryCount="5"), rt
        )
    assert [text.startswith("Sorry, something went wrong") for text in rt.bot.texts()[-2:]] == [True, True]
