"""Telegram Stars through the real webhook (functions-framework, over HTTP) and the worker
against the emulators: a pre-checkout query answered in the webhook's reply from the mode in
Firestore, and a successful payment published, credited once and told once."""

from __future__ import annotations

import itertools
import json

import httpx
import pytest
from imagebot.core import payments
from imagebot.core.ops import Mode, Ops
from imagebot.core.updates import PaymentMade, decode_event
from imagebot.flows import validate_prompt

from tests.conftest import PROJECT
from tests.integration.functions.conftest import TOPICS, WEBHOOK_SECRET
from tests.support.events import pubsub_event_data
from tests.support.ledger import assert_balanced
from tests.support.pubsub import TopicTap

ids = itertools.count(43_000_000)
PACK = payments.PACKS[1]


def post(url: str, update: dict) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    return httpx.post(url, content=json.dumps(update).encode(), headers=headers, timeout=10)


def pre_checkout(user_id: int) -> dict:
    query = {
        "id": f"pcq-{user_id}",
        "from": {"id": user_id, "is_bot": False, "first_name": "Ann", "language_code": "ru"},
        "currency": "XTR",
        "total_amount": PACK.stars,
        "invoice_payload": payments.invoice_payload(PACK.pack_id, user_id),
    }
    return {"update_id": next(ids), "pre_checkout_query": query}


@pytest.fixture
def prompts(emulators) -> TopicTap:
    return TopicTap(PROJECT, TOPICS["PROMPTS_TOPIC"])


def test_a_pre_checkout_is_refused_while_paused_and_let_through_after(webhook_url, runtime, prompts):
    user_id = next(ids)
    runtime.config.set_ops(Ops(Mode.PAUSED, "maintenance", "operator"))
    try:
        refused = post(webhook_url, pre_checkout(user_id))
    finally:
        runtime.config.set_ops(Ops())
    assert refused.status_code == 200
    assert refused.json() == {
        "method": "answerPreCheckoutQuery",
        "pre_checkout_query_id": f"pcq-{user_id}",
        "ok": False,
        "error_message": "Продажи приостановлены на время обслуживания. Пожалуйста, попробуйте чуть позже.",
    }
    allowed = post(webhook_url, pre_checkout(user_id)).json()
    assert allowed == {
        "method": "answerPreCheckoutQuery",
        "pre_checkout_query_id": f"pcq-{user_id}",
        "ok": True,
    }
    assert prompts.quiet(0.5) == []  # answered in the reply: nothing for the worker


def test_a_successful_payment_is_published_credited_once_and_told_once(
    webhook_url, runtime, telegram, prompts
):
    user_id = next(ids)
    paid = {
        "currency": "XTR",
        "total_amount": PACK.stars,
        "invoice_payload": payments.invoice_payload(PACK.pack_id, user_id),
        "telegram_payment_charge_id": f"stxit{user_id}",
        "provider_payment_charge_id": "",
    }
    message = {
        "message_id": 9,
        "date": 0,
        "chat": {"id": user_id, "type": "private"},
        "from": {"id": user_id},
    }
    update = {"update_id": next(ids), "message": {**message, "successful_payment": paid}}
    assert post(webhook_url, update).status_code == 200
    (published,) = prompts.drain(expect=1)
    event = decode_event(published.data)
    assert isinstance(event, PaymentMade) and event.charge_id == f"stxit{user_id}"

    for _ in range(3):  # Pub/Sub's redeliveries, each a new attempt
        validate_prompt.handle_message(pubsub_event_data(published.data), runtime)
    assert runtime.payments.credits_of(user_id).held == PACK.pictures
    told = [call for call in telegram.calls("sendMessage") if str(call.params["chat_id"]) == str(user_id)]
    assert [call.params["text"] for call in told] == [
        f"⭐ Thank you! {PACK.pictures} pictures added. You now have {PACK.pictures} credits."
    ]
    assert assert_balanced(runtime.db, [user_id]) == 1
