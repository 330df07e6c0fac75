"""`make screenshot`: docs/playground.png, a real chat in the playground, taken in headless Chromium.

    python -m local.screenshot                      # brings the local stack up, and down after
    python -m local.screenshot --playground URL     # uses a running one (`make up` prints URL)

It plays a person in the browser: /start, a prompt answered with a photo, a second prompt whose
status is on screen, and a third waiting for its style, so one picture shows every kind of message.
The pictures are whatever the GPU service makes: noise, with the tiny random-weight pipeline.
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from local.browser import launch
from local.fake_telegram_client import FakeTelegram
from local.stack import ROOT, LocalStack, StackConfig

OUT = ROOT / "docs" / "playground.png"
WIDTH = 520
PROMPTS = ("a lighthouse on a cliff at sunset", "a quiet village by the sea", "a knight and a dragon")
# The second photo's upload is held while the picture is taken, so its status is in it. Below the
# bot's Bot API timeout (15 s), so the bot sees a slow upload, never a failed one.
HOLD_SECONDS = 12
TIMEOUT_MS = 120_000


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m local.screenshot", description=__doc__)
    parser.add_argument("--playground", help="a running stack's playground URL; default: start one")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.playground:
        take(args.playground, args.out)
        return 0
    stack = LocalStack(StackConfig())
    try:
        stack.start()
        take(f"{stack.telegram_api_base}/_fake/chat", args.out)
    finally:
        stack.stop()
    return 0


def take(playground: str, out: Path) -> None:
    base = playground.split("/_fake/")[0]
    chat_id = 1_000_000 + int(time.time()) % 1_000_000  # a fresh chat, even on a stack in use
    with sync_playwright() as playwright, FakeTelegram(base) as telegram:
        browser = launch(playwright)
        try:
            # One CSS pixel a pixel: the README shows the picture at its own size, a phone-like column.
            page = browser.new_page(viewport={"width": WIDTH, "height": 900}, locale="en-GB")
            page.goto(f"{playground}?user={chat_id}&name=Ann&lang=en")
            page.get_by_role("button", name="Start").click()
            expect(page.locator(".msg.theirs")).to_have_count(1, timeout=TIMEOUT_MS)

            first = send(page, PROMPTS[0])
            choose(page, first, "Pixel Art")
            expect(answer_to(page, first).locator(".photo img")).to_be_visible(timeout=TIMEOUT_MS)

            telegram.inject_fault("sendPhoto", error_code=None, delay=HOLD_SECONDS)
            second = send(page, PROMPTS[1])
            status = choose(page, second, "Ghibli Art")
            expect(status.locator(".keyboard")).to_have_count(0, timeout=TIMEOUT_MS)

            third = send(page, PROMPTS[2])
            expect(answer_to(page, third).locator(".keyboard button").first).to_be_visible(timeout=TIMEOUT_MS)
            expect(page.locator("#toast")).to_be_hidden(timeout=10_000)  # the "✓" toast of the press
            page.mouse.move(0, 0)  # no button left in its hover colour
            fit_the_chat(page)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            print(f"saved {out}")
        finally:
            telegram.clear_faults()
            browser.close()


def send(page: Page, prompt: str) -> str:
    """Type a prompt and send it; the message id it got."""
    page.get_by_label("message").fill(prompt)
    page.keyboard.press("Enter")
    mine = page.locator(".msg.mine").filter(has_text=prompt).last
    expect(mine).to_be_visible()
    return mine.get_attribute("data-message-id")


def answer_to(page: Page, message_id: str):
    return page.locator(f'.msg.theirs[data-reply-to="{message_id}"]')


def choose(page: Page, prompt_id: str, style: str):
    """Press a style under the bot's question about a prompt; the question (soon the status)."""
    question = answer_to(page, prompt_id).filter(has=page.locator(".keyboard"))
    button = question.locator(".keyboard button", has_text=style)
    expect(button).to_be_visible(timeout=TIMEOUT_MS)
    message_id = question.get_attribute("data-message-id")
    button.click()
    return page.locator(f'.msg[data-message-id="{message_id}"]')


def fit_the_chat(page: Page) -> None:
    """Make the window as tall as the chat, so the picture shows all of it without scrolling."""
    extra = page.evaluate(
        "() => { const s = document.getElementById('scroller'); return s.scrollHeight - s.clientHeight; }"
    )
    if extra > 0:
        page.set_viewport_size({"width": WIDTH, "height": 900 + extra})
        page.evaluate(
            "() => { const s = document.getElementById('scroller'); s.scrollTop = s.scrollHeight; }"
        )


if __name__ == "__main__":
    raise SystemExit(main())
