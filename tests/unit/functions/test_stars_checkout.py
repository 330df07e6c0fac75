"""Telegram Stars, pure: the two updates parsed, the pre-checkout decision, what a payment
credits, the buttons, and the Bot API client's invoice and refund calls."""

import json
from datetime import datetime

import httpx
import pytest
from imagebot.core import checkout, keyboards, ledger, payments, texts
from imagebot.core.answer_to import AnswerTo
from imagebot.core.checkout import CheckoutRefusal
from imagebot.core.ops import Mode
from imagebot.core.updates import (
    ALLOWED_UPDATES,
    MalformedUpdate,
    PaymentMade,
    PreCheckout,
    decode_event,
    encode_event,
    parse_update,
)
from imagebot.edges.telegram import BotApi, TelegramError

BUYER = {"id": 7, "is_bot": False, "first_name": "Ann", "language_code": "ru"}
PACK = payments.PACKS[0]


def pre_checkout(**changes):
    query = {
        "id": "pcq-1",
        "from": BUYER,
        "currency": "XTR",
        "total_amount": PACK.stars,
        "invoice_payload": payments.invoice_payload(PACK.pack_id, 7),
        **changes,
    }
    return {"update_id": 30, "pre_checkout_query": query}


def successful(**changes):
    paid = {
        "currency": "XTR",
        "total_amount": PACK.stars,
        "invoice_payload": payments.invoice_payload(PACK.pack_id, 7),
        "telegram_payment_charge_id": "stxAbC-123_x",
        "provider_payment_charge_id": "prov-9",
        **changes,
    }
    message = {"message_id": 8, "date": 1, "chat": {"id": 7, "type": "private"}, "from": BUYER}
    return {"update_id": 31, "message": {**message, "successful_payment": paid}}


def test_webhook_asks_for_pre_checkout_queries():
    assert "pre_checkout_query" in ALLOWED_UPDATES


def test_a_pre_checkout_query_is_parsed_whole():
    assert parse_update(pre_checkout()) == PreCheckout(
        update_id=30,
        pre_checkout_query_id="pcq-1",
        user_id=7,
        currency="XTR",
        total_amount=PACK.stars,
        invoice_payload=f"{PACK.pack_id}:7",
        language_code="ru",
    )


def test_a_successful_payment_is_a_published_event_that_survives_the_topic():
    event = parse_update(successful())
    assert isinstance(event, PaymentMade) and event.kind == "payment"
    assert (event.chat_id, event.user_id, event.message_id) == (7, 7, 8)
    assert (event.charge_id, event.provider_charge_id) == ("stxAbC-123_x", "prov-9")
    assert (event.currency, event.total_amount, event.invoice_payload) == ("XTR", PACK.stars, "p10:7")
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    "update",
    [
        pre_checkout(id=""),
        pre_checkout(total_amount="50"),
        pre_checkout(total_amount=True),
        pre_checkout(total_amount=0),
        pre_checkout(invoice_payload=None),
        pre_checkout(invoice_payload="x" * 129),
        pre_checkout(currency=7),
        pre_checkout(**{"from": "someone"}),
        successful(telegram_payment_charge_id=None),
        successful(telegram_payment_charge_id="a/b"),  # it names a document: payments/<id>
        successful(telegram_payment_charge_id="__reserved__"),
        successful(telegram_payment_charge_id="x" * 257),
        successful(total_amount=-5),
        successful(currency=""),
        {"update_id": 32, "message": {"message_id": 1, "chat": {"id": 7}, "successful_payment": []}},
        {"update_id": 33, "message": {"message_id": 1, "chat": {"id": 7}, "successful_payment": {}}},
    ],
)
def test_malformed_checkout_updates_are_refused_not_crashed_on(update):
    with pytest.raises(MalformedUpdate):
        parse_update(update)


def query(**changes):
    event = parse_update(pre_checkout(**changes))
    assert isinstance(event, PreCheckout)
    return event


@pytest.mark.parametrize(
    ("changes", "mode", "refusal"),
    [
        ({}, Mode.NORMAL, None),
        ({}, Mode.ECONOMY, None),
        ({}, Mode.PAUSED, CheckoutRefusal.PAUSED),
        ({}, None, CheckoutRefusal.UNAVAILABLE),
        ({"invoice_payload": "p999:7"}, Mode.NORMAL, CheckoutRefusal.UNKNOWN_PACK),
        ({"invoice_payload": "not ours"}, Mode.NORMAL, CheckoutRefusal.UNKNOWN_PACK),
        ({"invoice_payload": "p10:8"}, Mode.NORMAL, CheckoutRefusal.NOT_YOURS),
        ({"total_amount": PACK.stars - 1}, Mode.NORMAL, CheckoutRefusal.AMOUNT),
        ({"currency": "USD"}, Mode.NORMAL, CheckoutRefusal.CURRENCY),
    ],
)
def test_the_pre_checkout_decision(changes, mode, refusal):
    assert checkout.checkout_refusal(query(**changes), mode) == refusal


def test_the_answer_says_why_in_the_payers_language():
    refused = checkout.checkout_answer(query(), CheckoutRefusal.PAUSED)
    assert refused == {
        "method": "answerPreCheckoutQuery",
        "pre_checkout_query_id": "pcq-1",
        "ok": False,
        "error_message": "Продажи приостановлены на время обслуживания. Пожалуйста, попробуйте чуть позже.",
    }
    assert checkout.checkout_answer(query(), None) == {
        "method": "answerPreCheckoutQuery",
        "pre_checkout_query_id": "pcq-1",
        "ok": True,
    }


def paid(**changes):
    event = parse_update(successful(**changes))
    assert isinstance(event, PaymentMade)
    return event


def test_a_payment_credits_its_pack():
    assert checkout.credited(paid()) == checkout.Credited(PACK.pack_id, PACK.pictures, None)


def test_a_payment_not_as_invoiced_still_credits_what_was_paid_and_says_what_is_wrong():
    other = payments.PACKS[1]
    # another user's invoice: their pack, credited to whoever paid
    assert checkout.credited(paid(invoice_payload="p10:8")) == checkout.Credited(
        "p10", PACK.pictures, "paid by another user than the invoice's"
    )
    # an old price: the pack at the price paid
    stale = checkout.credited(paid(total_amount=other.stars))
    assert (stale.pack_id, stale.credits) == (other.pack_id, other.pictures) and stale.problem
    # a payload the bot never made, at no pack's price: the smallest pack's rate, rounded down
    odd = checkout.credited(paid(invoice_payload="gift", total_amount=PACK.stars * 2 + 1))
    assert (odd.pack_id, odd.credits) == ("unknown", PACK.pictures * 2) and odd.problem


def test_the_buttons_carry_what_their_handlers_need_within_64_bytes():
    packs = checkout.pack_buttons("en")["inline_keyboard"]
    assert [row[0]["text"] for row in packs] == [
        f"{p.pictures} pictures · {p.stars} ⭐" for p in payments.PACKS
    ]
    assert [keyboards.parse(row[0]["callback_data"]) for row in packs] == [
        keyboards.Callback("buy", (p.pack_id,)) for p in payments.PACKS
    ]
    payment = payments.Payment("c" * 200, 7, "p10", 50, 10, paid_at=datetime(2026, 12, 1))
    (row,) = checkout.refund_buttons([payment], "ru")["inline_keyboard"]
    assert row[0]["text"] == "↩ 10 картинок · 50 ⭐ · 2026-12-01"
    assert keyboards.parse(row[0]["callback_data"]) == keyboards.Callback(
        "refund", (ledger.short_id("c" * 200),)
    )


def recording_api(answer):
    seen = []

    def handler(request):
        seen.append((request.url.path.rsplit("/", 1)[1], json.loads(request.content)))
        return answer

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return BotApi("123:T", "https://bot.test", client=client), seen


def test_an_invoice_is_in_stars_with_an_empty_provider_token():
    api, seen = recording_api(httpx.Response(200, json={"ok": True, "result": {"message_id": 4}}))
    api.send_invoice(AnswerTo(7), title="10 pictures", description="d", payload="p10:7", stars=50)
    assert seen == [
        (
            "sendInvoice",
            {
                "chat_id": 7,
                "title": "10 pictures",
                "description": "d",
                "payload": "p10:7",
                "provider_token": "",
                "currency": "XTR",
                "prices": [{"label": "10 pictures", "amount": 50}],
            },
        )
    ]


def test_a_refund_names_the_user_and_the_charge_and_an_earlier_one_is_told_apart():
    api, seen = recording_api(httpx.Response(200, json={"ok": True, "result": True}))
    assert api.refund_star_payment(7, "stx1") is True
    assert seen == [("refundStarPayment", {"user_id": 7, "telegram_payment_charge_id": "stx1"})]

    refused = {"ok": False, "error_code": 400, "description": "Bad Request: CHARGE_ALREADY_REFUNDED"}
    api, _ = recording_api(httpx.Response(400, json=refused))
    with pytest.raises(TelegramError) as raised:
        api.refund_star_payment(7, "stx1")
    assert raised.value.already_refunded and not raised.value.transient
    assert not TelegramError("refundStarPayment", 400, "Bad Request: CHARGE_NOT_FOUND").already_refunded
    assert TelegramError("refundStarPayment", 502, "Bad Gateway").transient


@pytest.mark.parametrize("language", ["en", "ru"])
def test_every_invoice_fits_telegrams_limits(language):
    for pack in payments.PACKS:
        title = texts.render(language, "invoice_title", pictures=pack.pictures)
        description = texts.render(language, "invoice_description", pictures=pack.pictures, days=14)
        assert 1 <= len(title) <= 32 and 1 <= len(description) <= 255, (pack, language)
        assert len(payments.invoice_payload(pack.pack_id, -(2**52 - 1)).encode()) <= 128
