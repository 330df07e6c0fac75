"""The playground's invoices in a real headless Chromium: an invoice card, Pay, the bot's answer.

A small stand-in bot behind the fake's webhook answers the pre-checkout query in its response
(ok for one pack, refused with a reason for another) and thanks the user for a successful
payment, so the page is checked against what the fake recorded without the whole stack.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from local.browser import launch
from local.fake_telegram import FakeTelegramConfig, FakeTelegramServer
from local.fake_telegram_client import FakeTelegram

from .conftest import SECRET, TOKEN, Answer, Received, Receiver

USER = 1001
CLOSED = "Sales are paused for a while; your Stars were not taken."
THANKS = "Thank you! 10 pictures are yours."


def stand_in_bot(received: Received) -> Answer:
    update = json.loads(received.body)
    if "pre_checkout_query" in update:
        query = update["pre_checkout_query"]
        body: dict[str, Any] = {"method": "answerPreCheckoutQuery", "pre_checkout_query_id": query["id"]}
        if query["invoice_payload"].startswith("closed:"):
            body.update(ok=False, error_message=CLOSED)
        else:
            body["ok"] = True
        return 200, json.dumps(body), "application/json"
    message = update.get("message", {})
    if "successful_payment" in message:
        body = {"method": "sendMessage", "chat_id": message["chat"]["id"], "text": THANKS}
        return 200, json.dumps(body), "application/json"
    return 200, "OK", "text/plain"


@pytest.fixture
def server(make_receiver: Callable[..., Receiver], http: httpx.Client) -> Iterator[FakeTelegramServer]:
    with FakeTelegramServer(FakeTelegramConfig(token=TOKEN)) as server:
        bot = make_receiver(stand_in_bot)
        set_up = http.post(f"{server.api_url}/setWebhook", json={"url": bot.url, "secret_token": SECRET})
        assert set_up.json()["ok"] is True
        yield server


@pytest.fixture
def page() -> Iterator[Page]:
    # No skip when Chromium is missing: launch() raises, and the test fails saying what to install.
    with sync_playwright() as playwright:
        browser: Browser = launch(playwright)
        context = browser.new_context(viewport={"width": 520, "height": 900})
        yield context.new_page()
        browser.close()


def send_invoice(
    http: httpx.Client, server: FakeTelegramServer, payload: str, **extra: Any
) -> dict[str, Any]:
    sent = http.post(
        f"{server.api_url}/sendInvoice",
        json={
            "chat_id": USER,
            "title": "10 pictures",
            "description": "Ten pictures in any style, kept until used",
            "payload": payload,
            "currency": "XTR",
            "prices": [{"label": "10 pictures", "amount": 50}],
            **extra,
        },
    ).json()
    assert sent["ok"] is True, sent
    result: dict[str, Any] = sent["result"]
    return result


def test_an_invoice_shows_its_price_and_pay_completes_the_payment(
    server: FakeTelegramServer, http: httpx.Client, page: Page
) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    invoice = send_invoice(http, server, f"p10:{USER}")  # no keyboard: Telegram's own Pay button
    page.goto(f"{server.base_url}/_fake/chat?user={USER}&name=Ann")

    card = page.locator(f'.msg.theirs[data-message-id="{invoice["message_id"]}"]')
    expect(card.locator(".invoice-title")).to_have_text("10 pictures")
    expect(card.locator(".invoice-description")).to_have_text("Ten pictures in any style, kept until used")
    expect(card.locator(".invoice-price")).to_have_text("⭐ 50")
    card.locator(".keyboard button", has_text="Pay ⭐50").click()

    expect(page.locator(".msg.service .notice")).to_have_text("You paid ⭐50 to Image Bot (local)")
    expect(page.locator(".msg.theirs .content", has_text=THANKS)).to_have_count(1)
    expect(card.locator(".keyboard button")).to_have_text("Paid ✓")
    expect(card.locator(".keyboard button")).to_be_disabled()
    with FakeTelegram(server.base_url) as telegram:
        [payment] = telegram.star_payments()
        assert (payment.user_id, payment.amount, payment.invoice_payload) == (USER, 50, f"p10:{USER}")
        paid = [m for m in telegram.chat(USER)["messages"] if "successful_payment" in m]
        assert [m["successful_payment"]["telegram_payment_charge_id"] for m in paid] == [
            payment.telegram_payment_charge_id
        ]
    assert errors == []


def test_a_refused_payment_shows_the_bots_reason_and_charges_nothing(
    server: FakeTelegramServer, http: httpx.Client, page: Page
) -> None:
    pay_button = {"inline_keyboard": [[{"text": "Buy for ⭐50", "pay": True}]]}
    invoice = send_invoice(http, server, f"closed:{USER}", reply_markup=pay_button)
    page.goto(f"{server.base_url}/_fake/chat?user={USER}&name=Ann")

    card = page.locator(f'.msg.theirs[data-message-id="{invoice["message_id"]}"]')
    card.locator(".keyboard button", has_text="Buy for ⭐50").click()

    expect(page.locator('#toast[data-kind="refusal"]')).to_have_text(CLOSED)
    expect(card.locator(".keyboard button")).to_be_enabled()  # not paid: it may be tried again
    with FakeTelegram(server.base_url) as telegram:
        assert telegram.star_payments() == []
    assert page.locator(".msg.service").count() == 0
