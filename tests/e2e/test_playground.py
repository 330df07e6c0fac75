"""The playground in a real headless Chromium: type a prompt, press a style, see the photo.

The page is checked against what the fake Bot API recorded, not against the bot's wording: the
status shown is a recorded edit, the photo's bytes are the recorded upload, and in the end the page
shows exactly the messages the fake holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from local.browser import launch
from local.fake_telegram_client import FakeTelegram
from tests.support.events import unique_ids
from tests.support.images import png
from tests.support.waits import wait_until

pytestmark = pytest.mark.e2e
chats = unique_ids(30_000_000)
# A prompt that is also markup: drawn as HTML, it would add an <img> and run its handler.
HOSTILE_PROMPT = '<img src=x onerror="alert(1)"> a lighthouse & <b>stars</b>'
GENERATION_TIMEOUT_SECONDS = 90
# The photo's upload is held this long, so the status stays on screen long enough to be seen
# however fast the GPU service is (as a slow upload to Telegram would hold it).
UPLOAD_DELAY_SECONDS = 1.5


@dataclass
class Tab:
    page: Page
    dialogs: list[str] = field(default_factory=list)  # an alert() would mean injected script ran
    errors: list[str] = field(default_factory=list)  # uncaught exceptions in the page's script


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # No skip when Chromium is missing: launch() raises, and the test fails saying what to install.
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 520, "height": 900})
    tab = Tab(context.new_page())
    tab.page.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.page.on("pageerror", lambda error: tab.errors.append(str(error)))
    yield tab
    context.close()


def in_chat(chat_id: int):
    return lambda call: str(call.params.get("chat_id")) == str(chat_id) and call.ok


def test_a_prompt_and_a_style_button_bring_the_photo_into_the_page(stack, telegram, tab):
    page, chat_id = tab.page, next(chats)
    page.goto(f"{stack.telegram_api_base}/_fake/chat?user={chat_id}&name=Ann")

    page.get_by_label("message").fill(HOSTILE_PROMPT)
    page.keyboard.press("Enter")
    prompt = page.locator(".msg.mine").last
    expect(prompt.locator(".content")).to_have_text(HOSTILE_PROMPT)
    prompt_id = prompt.get_attribute("data-message-id")

    question = page.locator(f'.msg.theirs[data-reply-to="{prompt_id}"]')
    style = question.locator(".keyboard button", has_text="Pixel Art")
    expect(style).to_be_visible(timeout=30_000)
    # The bot quotes the prompt in its HTML text; the page shows the characters, not markup.
    expect(question.locator(".content")).to_contain_text(HOSTILE_PROMPT)
    question_id = int(question.get_attribute("data-message-id"))

    since = telegram.last_seq()
    telegram.inject_fault("sendPhoto", error_code=None, delay=UPLOAD_DELAY_SECONDS)
    try:
        style.click()
        # The question turns into the status, edited in place: the style buttons give way to
        # ✖ Cancel (while the job waits), a text the bot sent shows.
        status_keyboard = page.locator(f'.msg[data-message-id="{question_id}"] .keyboard button')
        expect(status_keyboard).to_have_text(["✖ Cancel"])
        wait_for_a_recorded_edit(page, telegram, chat_id, question_id, since)
        sent = telegram.wait_for_call(
            "sendPhoto", in_chat(chat_id), since=since, timeout=GENERATION_TIMEOUT_SECONDS
        )
    finally:
        telegram.clear_faults()

    answer = page.locator(f'.msg.theirs[data-reply-to="{prompt_id}"]:has(.photo)')
    photo = answer.locator("img")
    expect(photo).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=photo.element_handle())
    largest = sent.result["photo"][-1]
    assert photo.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [
        largest["width"],
        largest["height"],
    ]
    # The bytes the browser got are the bytes the bot uploaded (the fake keeps them as they came).
    assert sha256_in_page(photo) == sent.files[0]["sha256"]
    expect(answer.locator(".content")).to_have_text(sent.result["caption"])
    for entity in sent.result.get("caption_entities", []):
        if entity["type"] == "bold":  # the caption's <b>, drawn from the entities the fake parsed
            bold = sent.result["caption"][entity["offset"] : entity["offset"] + entity["length"]]
            expect(answer.locator(".content b", has_text=bold)).to_have_count(1)

    # Deleted messages disappear and nothing else is left: the page mirrors the chat in the fake.
    assert question_id not in wait_for_the_page_to_mirror(page, telegram, chat_id)
    # The hostile prompt added no element: the only image is the photo, no handler attribute anywhere.
    assert page.evaluate("() => [...document.images].every(img => img.closest('.photo'))")
    assert page.locator("[onerror]").count() == 0
    assert tab.dialogs == [] and tab.errors == []


def test_a_photo_uploaded_in_the_page_is_a_photo_message_with_the_text_as_caption(stack, telegram, tab):
    page, chat_id = tab.page, next(chats)
    page.goto(f"{stack.telegram_api_base}/_fake/chat?user={chat_id}&name=Ann")
    image = png(640, 480, "purple")

    page.get_by_label("message").fill("my cat, please")
    page.get_by_label("photo").set_input_files(
        files=[{"name": "cat.png", "mimeType": "image/png", "buffer": image}]
    )

    sent = page.locator(".msg.mine:has(.photo)")
    expect(sent).to_have_count(1, timeout=20_000)
    expect(sent.locator(".content")).to_have_text("my cat, please")
    message_id = int(sent.get_attribute("data-message-id"))
    message = telegram.message(chat_id, message_id)
    assert message is not None and message["caption"] == "my cat, please"
    assert telegram.file_bytes(message["photo"][-1]["file_id"]) == image
    assert [size["width"] for size in message["photo"]] == [90, 320, 640]
    noted = [e for e in telegram.chat(chat_id)["transcript"] if e.get("message_id") == message_id]
    assert noted[0]["event"] == "photo"
    # The update reached the bot: whatever it makes of a photo, it answers in the chat.
    wait_until(
        lambda: any(
            m["from"]["is_bot"] and m["message_id"] > message_id for m in telegram.chat(chat_id)["messages"]
        ),
        30,
        "the bot answers the uploaded photo",
    )
    assert tab.errors == []


def wait_for_a_recorded_edit(
    page: Page, telegram: FakeTelegram, chat_id: int, message_id: int, since: int
) -> None:
    """Until the message's text on the page is one the fake recorded an edit to (20 s at most)."""
    node = page.locator(f'.msg[data-message-id="{message_id}"] .content')
    deadline = time.monotonic() + 20
    while True:
        edits = [
            call.result["text"]
            for call in telegram.calls("editMessageText", since)
            if in_chat(chat_id)(call) and call.result["message_id"] == message_id
        ]
        shown = node.text_content() if node.count() else None
        if shown in edits:
            return
        assert time.monotonic() < deadline, f"the page shows {shown!r}; the bot's edits were {edits}"
        time.sleep(0.05)


def sha256_in_page(image: Locator) -> str:
    return image.evaluate(
        """async img => {
            const bytes = await (await fetch(img.currentSrc)).arrayBuffer();
            const digest = await crypto.subtle.digest("SHA-256", bytes);
            return [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, "0")).join("");
        }"""
    )


def wait_for_the_page_to_mirror(page: Page, telegram: FakeTelegram, chat_id: int) -> list[int]:
    """The message ids on the page, once they are the fake's, in the same order (10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        held = [message["message_id"] for message in telegram.chat(chat_id)["messages"]]
        shown = [int(i) for i in page.locator(".msg").evaluate_all("ns => ns.map(n => n.dataset.messageId)")]
        if shown == held:
            return shown
        assert time.monotonic() < deadline, f"the page shows messages {shown}; the fake holds {held}"
        time.sleep(0.05)
