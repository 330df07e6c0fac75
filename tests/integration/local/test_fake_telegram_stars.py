"""Telegram Stars over real HTTP: invoices, pre-checkout answers, successful payments, refunds."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from local.fake_telegram import FakeTelegramConfig, FakeTelegramServer
from local.fake_telegram_client import FakeTelegram, FakeTelegramError

from .conftest import SECRET, TOKEN, Answer, Received, Receiver

USER = 42
PAY = {"inline_keyboard": [[{"text": "Pay ⭐50", "pay": True}]]}


def answering(ok: bool = True, error_message: str | None = None) -> Callable[[Received], Answer]:
    """A bot that answers each pre-checkout query in its webhook response."""

    def answer(received: Received) -> Answer:
        update = json.loads(received.body)
        if "pre_checkout_query" not in update:
            return 200, "OK", "text/plain"
        body: dict[str, Any] = {
            "method": "answerPreCheckoutQuery",
            "pre_checkout_query_id": update["pre_checkout_query"]["id"],
            "ok": ok,
        }
        if error_message is not None:
            body["error_message"] = error_message
        return 200, json.dumps(body), "application/json"

    return answer


def set_webhook(http: httpx.Client, server: FakeTelegramServer, receiver: Receiver, **extra: Any) -> None:
    answer = http.post(
        f"{server.api_url}/setWebhook", json={"url": receiver.url, "secret_token": SECRET, **extra}
    )
    assert answer.json()["ok"] is True


def send_invoice(http: httpx.Client, server: FakeTelegramServer, **changes: Any) -> httpx.Response:
    params: dict[str, Any] = {
        "chat_id": USER,
        "title": "10 pictures",
        "description": "Ten pictures in any style",
        "payload": f"p10:{USER}",
        "currency": "XTR",
        "prices": [{"label": "10 pictures", "amount": 50}],
        **changes,
    }
    return http.post(f"{server.api_url}/sendInvoice", json={k: v for k, v in params.items() if v is not None})


def an_invoice(http: httpx.Client, server: FakeTelegramServer, **changes: Any) -> int:
    sent = send_invoice(http, server, **changes)
    assert sent.status_code == 200, sent.text
    message_id: int = sent.json()["result"]["message_id"]
    return message_id


def bot_refunds(
    http: httpx.Client, server: FakeTelegramServer, charge_id: str | None, user_id: int = USER
) -> httpx.Response:
    """The bot's own refund: refundStarPayment."""
    return http.post(
        f"{server.api_url}/refundStarPayment",
        json={"user_id": user_id, "telegram_payment_charge_id": charge_id},
    )


def star_balance(http: httpx.Client, server: FakeTelegramServer) -> int:
    amount: int = http.get(f"{server.api_url}/getMyStarBalance").json()["result"]["amount"]
    return amount


def updates(receiver: Receiver) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in receiver.received]


@pytest.fixture
def shop(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, make_receiver: Callable[..., Receiver]
) -> Iterator[Receiver]:
    receiver = make_receiver(answering())
    set_webhook(http, fake_telegram_server, receiver)
    yield receiver


def test_an_invoice_is_a_message_with_an_invoice_kept_in_the_chat(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram
) -> None:
    # A form body, as some clients send it: prices and reply_markup are JSON strings.
    sent = http.post(
        f"{fake_telegram_server.api_url}/sendInvoice",
        data={
            "chat_id": str(USER),
            "title": "10 pictures",
            "description": "Ten pictures in any style",
            "payload": "p10:42",
            "provider_token": "",
            "currency": "XTR",
            "prices": json.dumps([{"label": "10 pictures", "amount": 50}]),
            "reply_markup": json.dumps(PAY),
        },
    ).json()

    assert sent["ok"] is True
    message = sent["result"]
    assert message["invoice"] == {
        "title": "10 pictures",
        "description": "Ten pictures in any style",
        "start_parameter": "",
        "currency": "XTR",
        "total_amount": 50,
    }
    assert "payload" not in json.dumps(message)  # Telegram's Invoice does not show it
    assert message["reply_markup"] == PAY
    assert telegram.message(USER, message["message_id"]) == message
    assert telegram.invoices(USER) == [message]
    assert telegram.wait_for_invoice(USER) == message
    [noted] = [e for e in telegram.chat(USER)["transcript"] if e.get("message_id") == message["message_id"]]
    assert noted["invoice"] == {"title": "10 pictures", "currency": "XTR", "total_amount": 50}


@pytest.mark.parametrize(
    ("changes", "description"),
    [
        (
            {"currency": "USD", "provider_token": "284685063:TEST:abc"},
            "Bad Request: PAYMENT_PROVIDER_INVALID",
        ),
        ({"provider_token": "284685063:TEST:abc"}, "Bad Request: PAYMENT_PROVIDER_INVALID"),
        (
            {"prices": [{"label": "a", "amount": 25}, {"label": "b", "amount": 25}]},
            "Bad Request: STARS_INVOICE_INVALID",
        ),
        ({"prices": [{"label": "a", "amount": 0}]}, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"prices": "[not json"}, "Bad Request: can't parse prices JSON object"),
        ({"payload": "p" * 129}, "Bad Request: INVOICE_PAYLOAD_INVALID"),
        (
            {"reply_markup": {"inline_keyboard": [[{"text": "Buy", "callback_data": "buy"}]]}},
            "Bad Request: the first button",
        ),
        ({"chat_id": None}, "Bad Request: chat_id is empty"),
    ],
)
def test_a_bad_invoice_is_a_400_and_sends_nothing(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    changes: dict[str, Any],
    description: str,
) -> None:
    refused = send_invoice(http, fake_telegram_server, **changes)

    assert refused.status_code == 400
    assert refused.json()["description"].startswith(description)
    assert telegram.invoices() == []


def test_a_payment_answered_in_the_webhook_response_is_charged_and_announced(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, shop: Receiver
) -> None:
    invoice = an_invoice(http, fake_telegram_server, reply_markup=PAY)

    paid = telegram.pay_invoice(USER, USER, invoice, first_name="Ann", language_code="ru")

    asked, announced = updates(shop)
    query = asked["pre_checkout_query"]
    assert query == {
        "id": paid.pre_checkout_query_id,
        "from": {"id": USER, "is_bot": False, "first_name": "Ann", "language_code": "ru"},
        "currency": "XTR",
        "total_amount": 50,
        "invoice_payload": "p10:42",
    }
    assert paid.pre_checkout.reply is not None and paid.pre_checkout.reply.ok
    assert (paid.answered, paid.accepted, paid.error_message) == (True, True, None)
    assert paid.telegram_payment_charge_id is not None
    assert announced == paid.update
    assert paid.successful_payment is not None and paid.successful_payment.update_id == announced["update_id"]
    message = announced["message"]
    assert message["from"]["id"] == USER and message["chat"]["id"] == USER
    assert message["successful_payment"] == {
        "currency": "XTR",
        "total_amount": 50,
        "invoice_payload": "p10:42",
        "telegram_payment_charge_id": paid.telegram_payment_charge_id,
        "provider_payment_charge_id": "",
    }
    assert telegram.message(USER, message["message_id"]) == message
    [payment] = telegram.star_payments()
    assert (payment.telegram_payment_charge_id, payment.user_id, payment.amount) == (
        paid.telegram_payment_charge_id,
        USER,
        50,
    )
    assert (payment.refunded, payment.refund_count) == (False, 0)
    # An invoice is paid once; the next purchase is a new invoice, with a charge id of its own.
    with pytest.raises(FakeTelegramError, match="paid already"):
        telegram.pay_invoice(USER, USER, invoice)
    again = telegram.pay_invoice(USER, USER, an_invoice(http, fake_telegram_server))
    assert again.accepted and again.telegram_payment_charge_id != paid.telegram_payment_charge_id


def test_a_pre_checkout_query_can_be_answered_by_a_separate_call(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    make_receiver: Callable[..., Receiver],
) -> None:
    answers: list[httpx.Response] = []

    def answer_later(received: Received) -> Answer:
        update = json.loads(received.body)
        if "pre_checkout_query" in update:
            # The answer comes after the webhook has answered 200 with nothing in it.
            body = {"pre_checkout_query_id": update["pre_checkout_query"]["id"], "ok": True}

            def call() -> None:
                answers.append(
                    httpx.post(
                        f"{fake_telegram_server.api_url}/answerPreCheckoutQuery", json=body, timeout=10
                    )
                )

            threading.Thread(target=call).start()
        return 200, "OK", "text/plain"

    set_webhook(http, fake_telegram_server, make_receiver(answer_later))

    paid = telegram.pay_invoice(USER, USER, an_invoice(http, fake_telegram_server))

    assert paid.pre_checkout.reply is None
    assert paid.accepted and paid.successful_payment is not None and paid.successful_payment.status == 200
    assert answers[0].json() == {"ok": True, "result": True}


def test_a_refusal_reaches_the_user_with_its_reason_and_charges_nothing(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    make_receiver: Callable[..., Receiver],
) -> None:
    reason = "Sales are paused for a while. Your Stars were not taken."
    bot = make_receiver(answering(ok=False, error_message=reason))
    set_webhook(http, fake_telegram_server, bot)
    invoice = an_invoice(http, fake_telegram_server)

    paid = telegram.pay_invoice(USER, USER, invoice)

    assert (paid.answered, paid.accepted, paid.error_message) == (True, False, reason)
    assert (paid.telegram_payment_charge_id, paid.successful_payment, paid.update) == (None, None, None)
    assert len(bot.received) == 1
    assert telegram.star_payments() == []
    failed = [e for e in telegram.chat(USER)["transcript"] if e["event"] == "payment_failed"]
    assert [(e["message_id"], e["error_message"]) for e in failed] == [(invoice, reason)]


def test_a_refusal_without_a_reason_is_a_400(
    http: httpx.Client, make_receiver: Callable[..., Receiver]
) -> None:
    # The answer in the response is refused, so the payer waits out the (short) window.
    config = FakeTelegramConfig(token=TOKEN, pre_checkout_timeout=0.3)
    with FakeTelegramServer(config) as server, FakeTelegram(server.base_url) as telegram:
        set_webhook(http, server, make_receiver(answering(ok=False)))

        paid = telegram.pay_invoice(USER, USER, an_invoice(http, server))

    assert paid.pre_checkout.reply is not None and paid.pre_checkout.reply.status == 400
    assert "error_message is required" in (paid.pre_checkout.reply.description or "")
    assert (paid.answered, paid.accepted) == (False, False)


def test_an_unanswered_query_fails_the_payment_and_a_late_or_second_answer_is_too_old(
    http: httpx.Client, make_receiver: Callable[..., Receiver]
) -> None:
    config = FakeTelegramConfig(token=TOKEN, pre_checkout_timeout=0.3)
    with FakeTelegramServer(config) as server, FakeTelegram(server.base_url) as telegram:
        set_webhook(http, server, make_receiver())  # a bot that never answers

        paid = telegram.pay_invoice(USER, USER, an_invoice(http, server))
        late = http.post(
            f"{server.api_url}/answerPreCheckoutQuery",
            json={"pre_checkout_query_id": paid.pre_checkout_query_id, "ok": True},
        )

        assert (paid.answered, paid.accepted) == (False, False)
        assert late.status_code == 400
        assert late.json()["description"] == (
            "Bad Request: query is too old and response timeout expired or query ID is invalid"
        )
        assert telegram.star_payments() == []

    with (
        FakeTelegramServer(FakeTelegramConfig(token=TOKEN)) as server,
        FakeTelegram(server.base_url) as telegram,
    ):
        set_webhook(http, server, make_receiver(answering()))
        paid = telegram.pay_invoice(USER, USER, an_invoice(http, server))
        second = http.post(
            f"{server.api_url}/answerPreCheckoutQuery",
            json={"pre_checkout_query_id": paid.pre_checkout_query_id, "ok": False, "error_message": "no"},
        )
        assert paid.accepted and second.status_code == 400


def test_pre_checkout_queries_come_only_when_allowed_updates_asks_for_them(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    make_receiver: Callable[..., Receiver],
) -> None:
    bot = make_receiver(answering())
    set_webhook(http, fake_telegram_server, bot, allowed_updates=["message", "callback_query"])

    refused = telegram.pay_invoice(USER, USER, an_invoice(http, fake_telegram_server))

    assert not refused.pre_checkout.delivered and "pre_checkout_query" in (refused.pre_checkout.error or "")
    assert (refused.answered, refused.accepted, bot.received) == (False, False, [])

    set_webhook(http, fake_telegram_server, bot, allowed_updates=["message", "pre_checkout_query"])
    paid = telegram.pay_invoice(USER, USER, an_invoice(http, fake_telegram_server))

    # successful_payment arrives as a message: "message" lets it through.
    assert paid.accepted and paid.successful_payment is not None and paid.successful_payment.delivered


def test_the_same_successful_payment_can_be_redelivered_at_once_and_stays_one_payment(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, shop: Receiver
) -> None:
    paid = telegram.pay_invoice(USER, USER, an_invoice(http, fake_telegram_server))
    assert paid.update is not None
    update = paid.update

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: telegram.send_update(update), range(3)))

    assert [r.status for r in results] == [200, 200, 200]
    assert [r.update_id for r in results] == [update["update_id"]] * 3
    assert updates(shop)[-3:] == [update] * 3
    assert len(telegram.star_payments()) == 1


def test_stars_go_back_once_whatever_the_bot_asks(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, shop: Receiver
) -> None:
    paid = telegram.pay_invoice(USER, USER, an_invoice(http, fake_telegram_server))
    charge = paid.telegram_payment_charge_id

    def refund(user_id: int, charge_id: str | None) -> httpx.Response:
        return bot_refunds(http, fake_telegram_server, charge_id, user_id)

    someone_else, unknown = refund(USER + 1, charge), refund(USER, "stxFAKEnothing")
    first, second = refund(USER, charge), refund(USER, charge)

    assert [r.json().get("description") for r in (someone_else, unknown)] == [
        "Bad Request: CHARGE_NOT_FOUND"
    ] * 2
    assert first.json() == {"ok": True, "result": True}
    assert (second.status_code, second.json()["description"]) == (400, "Bad Request: CHARGE_ALREADY_REFUNDED")
    payment = telegram.star_payment(charge or "")
    assert (payment.refunded, payment.refund_count, payment.refund_refusals) == (True, 1, 1)
    refunded = [m for m in telegram.chat(USER)["messages"] if "refunded_payment" in m]
    assert [m["refunded_payment"]["telegram_payment_charge_id"] for m in refunded] == [charge]
    # The webhook heard of the payment, not of the refund (see the fake's differences).
    assert not any("refunded_payment" in u.get("message", {}) for u in updates(shop))

    transactions = http.get(f"{fake_telegram_server.api_url}/getStarTransactions").json()["result"]
    assert [(t["id"], "source" in t, "receiver" in t) for t in transactions["transactions"]] == [
        (charge, True, False),
        (charge, False, True),
    ]
    page = http.get(f"{fake_telegram_server.api_url}/getStarTransactions", params={"offset": 1, "limit": 1})
    assert ["receiver" in t for t in page.json()["result"]["transactions"]] == [True]
    too_many = http.get(f"{fake_telegram_server.api_url}/getStarTransactions", params={"limit": 101})
    assert too_many.status_code == 400
    assert star_balance(http, fake_telegram_server) == 0


def test_a_refund_can_fail_once_by_a_fault_and_then_refunds_once(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, shop: Receiver
) -> None:
    paid = telegram.pay_invoice(USER, USER, an_invoice(http, fake_telegram_server))
    body = {"user_id": USER, "telegram_payment_charge_id": paid.telegram_payment_charge_id}
    telegram.inject_fault("refundStarPayment", error_code=500)
    telegram.inject_fault("refundStarPayment", error_code=429, retry_after=2)
    url = f"{fake_telegram_server.api_url}/refundStarPayment"

    failed, limited = http.post(url, json=body), http.post(url, json=body)
    payment_between = telegram.star_payment(paid.telegram_payment_charge_id or "")
    done = http.post(url, json=body)

    assert (failed.status_code, failed.json()["description"]) == (500, "Internal Server Error")
    assert (limited.status_code, limited.json()["parameters"]) == (429, {"retry_after": 2})
    assert not payment_between.refunded
    assert done.json() == {"ok": True, "result": True}
    payment = telegram.star_payment(paid.telegram_payment_charge_id or "")
    assert (payment.refund_count, payment.refund_refusals) == (1, 0)


def test_only_a_bots_invoice_can_be_paid_and_only_by_its_chats_user(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, shop: Receiver
) -> None:
    invoice = an_invoice(http, fake_telegram_server)
    text = http.post(f"{fake_telegram_server.api_url}/sendMessage", json={"chat_id": USER, "text": "hi"})

    with pytest.raises(FakeTelegramError, match="no invoice"):
        telegram.pay_invoice(USER, USER, text.json()["result"]["message_id"])
    with pytest.raises(FakeTelegramError, match="no message 999"):
        telegram.pay_invoice(USER, USER, 999)
    with pytest.raises(FakeTelegramError, match="403"):
        telegram.pay_invoice(USER, USER + 1, invoice)
    assert shop.received == []


def test_a_refund_telegram_makes_itself_tells_the_bot_and_marks_the_ledger(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, shop: Receiver
) -> None:
    paid = telegram.pay_invoice(USER, USER, an_invoice(http, fake_telegram_server), first_name="Ann")
    charge = paid.telegram_payment_charge_id or ""

    refund = telegram.refund_by_telegram(charge)

    told = updates(shop)[-1]
    assert told == refund.update and told["message"] == refund.message
    assert (refund.delivery.status, refund.delivery.update_id) == (200, told["update_id"])
    assert told["update_id"] > (paid.update or {})["update_id"]
    message = told["message"]
    assert message["refunded_payment"] == {
        "currency": "XTR",
        "total_amount": 50,
        "invoice_payload": "p10:42",
        "telegram_payment_charge_id": charge,
    }
    assert message["chat"] == {"id": USER, "type": "private", "first_name": "Ann"}
    assert message["from"] == {"id": USER, "is_bot": False, "first_name": "Ann"}
    assert shop.received[-1].headers["x-telegram-bot-api-secret-token"] == SECRET
    assert telegram.message(USER, message["message_id"]) == message
    payment = telegram.star_payment(charge)
    assert (payment.refunded, payment.refund_count, payment.refund_refusals) == (True, 1, 0)
    assert payment.refund_date == message["date"]
    noted = [e for e in telegram.chat(USER)["transcript"] if e["event"].startswith("stars_refunded")]
    assert [(e["event"], e["message_id"]) for e in noted] == [
        ("stars_refunded_by_telegram", message["message_id"])
    ]


def test_a_payment_telegram_refunded_is_refunded_for_everyone_after(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, shop: Receiver
) -> None:
    paid = telegram.pay_invoice(USER, USER, an_invoice(http, fake_telegram_server))
    charge = paid.telegram_payment_charge_id or ""
    telegram.refund_by_telegram(charge)
    heard = len(shop.received)

    with pytest.raises(FakeTelegramError, match="409 the Stars payment .* is refunded already"):
        telegram.refund_by_telegram(charge)
    by_the_bot = bot_refunds(http, fake_telegram_server, charge)
    with pytest.raises(FakeTelegramError, match="404 no Stars payment stxFAKEnothing"):
        telegram.refund_by_telegram("stxFAKEnothing")

    assert (by_the_bot.status_code, by_the_bot.json()["description"]) == (
        400,
        "Bad Request: CHARGE_ALREADY_REFUNDED",
    )
    assert len(shop.received) == heard
    payment = telegram.star_payment(charge)
    assert (payment.refund_count, payment.refund_refusals) == (1, 1)  # the refusal counted is the bot's
    assert len([m for m in telegram.chat(USER)["messages"] if "refunded_payment" in m]) == 1
    assert star_balance(http, fake_telegram_server) == 0


def test_telegram_does_not_refund_again_what_the_bot_refunded(
    http: httpx.Client, fake_telegram_server: FakeTelegramServer, telegram: FakeTelegram, shop: Receiver
) -> None:
    paid = telegram.pay_invoice(USER, USER, an_invoice(http, fake_telegram_server))
    charge = paid.telegram_payment_charge_id or ""
    by_the_bot = bot_refunds(http, fake_telegram_server, charge)
    assert by_the_bot.json() == {"ok": True, "result": True}

    with pytest.raises(FakeTelegramError, match="409"):
        telegram.refund_by_telegram(charge)

    assert telegram.star_payment(charge).refund_count == 1
    assert not any("refunded_payment" in u.get("message", {}) for u in updates(shop))


def test_telegrams_refund_honours_the_delivery_flags_and_needs_a_webhook(
    http: httpx.Client,
    fake_telegram_server: FakeTelegramServer,
    telegram: FakeTelegram,
    make_receiver: Callable[..., Receiver],
) -> None:
    bot = make_receiver(answering())
    set_webhook(http, fake_telegram_server, bot, allowed_updates=["pre_checkout_query"])
    first, second, third = (
        telegram.pay_invoice(USER, USER, an_invoice(http, fake_telegram_server), ignore_allowed_updates=True)
        for _ in range(3)
    )

    unasked = telegram.refund_by_telegram(first.telegram_payment_charge_id or "")
    forced = telegram.refund_by_telegram(
        second.telegram_payment_charge_id or "", secret="not-the-secret", ignore_allowed_updates=True
    )
    http.post(f"{fake_telegram_server.api_url}/deleteWebhook")
    with pytest.raises(FakeTelegramError, match="409 no webhook is set"):
        telegram.refund_by_telegram(third.telegram_payment_charge_id or "")

    assert not unasked.delivery.delivered and "message updates are not in allowed_updates" in (
        unasked.delivery.error or ""
    )
    assert forced.delivery.status == 200
    assert bot.received[-1].headers["x-telegram-bot-api-secret-token"] == "not-the-secret"
    assert json.loads(bot.received[-1].body) == forced.update
    refunded = [(p.telegram_payment_charge_id, p.refunded) for p in telegram.star_payments()]
    assert refunded == [
        (first.telegram_payment_charge_id, True),
        (second.telegram_payment_charge_id, True),
        (third.telegram_payment_charge_id, False),
    ]
