"""The fake Bot API's Stars rules: what a Stars invoice may be, a pre-checkout answer, the ledger."""

from __future__ import annotations

from typing import Any

import pytest

from local.fake_telegram import _stars
from local.fake_telegram._errors import BotApiError


def terms(**changes: Any) -> _stars.InvoiceTerms:
    values: dict[str, Any] = {
        "title": "10 pictures",
        "description": "Ten pictures in any style",
        "payload": "p10:42",
        "currency": "XTR",
        "prices": [{"label": "10 pictures", "amount": 50}],
        "provider_token": None,
    }
    return _stars.invoice_terms(**{**values, **changes})


def refusal(**changes: Any) -> str:
    with pytest.raises(BotApiError) as raised:
        terms(**changes)
    assert raised.value.error_code == 400
    return raised.value.description


def test_a_stars_invoice_sells_one_price_in_whole_stars() -> None:
    assert terms() == _stars.InvoiceTerms("10 pictures", "p10:42", "XTR", 50)
    # An empty provider token is how the Bot API is told "Stars": the same as none.
    assert terms(provider_token="").total_amount == 50
    assert terms(title="x" * 32, description="d" * 255, payload="p" * 128).title == "x" * 32


@pytest.mark.parametrize(
    ("changes", "description"),
    [
        ({"currency": "USD"}, "Bad Request: PAYMENT_PROVIDER_INVALID"),
        ({"currency": None}, "Bad Request: PAYMENT_PROVIDER_INVALID"),
        ({"provider_token": "284685063:TEST:abc"}, "Bad Request: PAYMENT_PROVIDER_INVALID"),
        (
            {"prices": [{"label": "a", "amount": 30}, {"label": "b", "amount": 20}]},
            "Bad Request: STARS_INVOICE_INVALID",
        ),
        ({"prices": []}, "Bad Request: STARS_INVOICE_INVALID"),
        ({"prices": [{"label": "a", "amount": 0}]}, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"prices": [{"label": "a", "amount": -5}]}, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"prices": [{"label": "a", "amount": 10_001}]}, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"prices": [{"label": "a", "amount": 1.5}]}, "Bad Request: can't parse prices JSON object"),
        ({"prices": [{"label": "a", "amount": "50"}]}, "Bad Request: can't parse prices JSON object"),
        ({"prices": [{"label": "a", "amount": True}]}, "Bad Request: can't parse prices JSON object"),
        ({"prices": [{"amount": 50}]}, "Bad Request: can't parse prices JSON object"),
        ({"prices": None}, "Bad Request: can't parse prices JSON object"),
        ({"payload": ""}, "Bad Request: INVOICE_PAYLOAD_INVALID"),
        ({"payload": "é" * 65}, "Bad Request: INVOICE_PAYLOAD_INVALID"),  # 130 bytes in UTF-8
        ({"title": ""}, "Bad Request: invoice title must be 1-32 characters"),
        ({"title": "x" * 33}, "Bad Request: invoice title must be 1-32 characters"),
        ({"description": None}, "Bad Request: invoice description must be 1-255 characters"),
        ({"description": "d" * 256}, "Bad Request: invoice description must be 1-255 characters"),
    ],
)
def test_a_bad_invoice_is_refused_with_telegrams_error(changes: dict[str, Any], description: str) -> None:
    assert refusal(**changes).startswith(description)


def test_an_invoice_keyboard_must_start_with_a_pay_button() -> None:
    pay = {"text": "Pay ⭐50", "pay": True}
    other = {"text": "Terms", "callback_data": "terms"}
    _stars.check_pay_button(None)
    _stars.check_pay_button({"inline_keyboard": [[pay, other]]})
    for rows in ([[other, pay]], [[other], [pay]], []):
        with pytest.raises(BotApiError, match="must be a pay button"):
            _stars.check_pay_button({"inline_keyboard": rows})


def test_a_refusal_must_say_why() -> None:
    assert _stars.checked_answer(True, None) is None
    assert _stars.checked_answer(True, "ignored") is None
    assert _stars.checked_answer(False, "Sales are paused") == "Sales are paused"
    for empty in (None, "", "   "):
        with pytest.raises(BotApiError, match="error_message is required"):
            _stars.checked_answer(False, empty)


def test_charge_ids_look_like_telegrams_but_are_plainly_fake_and_unique() -> None:
    ids = {_stars.new_charge_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(charge.startswith("stxFAKE") and "/" not in charge for charge in ids)


def test_a_payment_lists_its_income_and_then_its_refund() -> None:
    user = {"id": 42, "is_bot": False, "first_name": "Ann"}
    payment = _stars.StarPayment("stxFAKE1", user, 42, 50, "p10:42", date=1_700_000_000)
    partner = {
        "type": "user",
        "transaction_type": "invoice_payment",
        "user": user,
        "invoice_payload": "p10:42",
    }

    assert payment.transactions() == [
        {"id": "stxFAKE1", "amount": 50, "date": 1_700_000_000, "source": partner}
    ]
    assert payment.successful_payment() == {
        "currency": "XTR",
        "total_amount": 50,
        "invoice_payload": "p10:42",
        "telegram_payment_charge_id": "stxFAKE1",
        "provider_payment_charge_id": "",
    }

    payment.refund_count, payment.refund_date = 1, 1_700_000_100
    assert payment.refunded and payment.describe()["refunded"] is True
    assert payment.transactions()[1] == {
        "id": "stxFAKE1",
        "amount": 50,
        "date": 1_700_000_100,
        "receiver": partner,
    }
