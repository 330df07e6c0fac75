"""What a Telegram user does, scripted against the fake Bot API: shared by the demo and tests."""

from __future__ import annotations

import time
from dataclasses import dataclass

from local.fake_telegram_client import FakeTelegram, RecordedCall, WebhookResult


@dataclass(frozen=True)
class Drawing:
    job_id: str
    style: str
    photo: RecordedCall
    png: bytes
    webhook_ms: dict[str, float]  # round trip of each update the user sent, as the fake saw it
    from_photo: bool = False  # drawn from a photo the user sent, not from words


def _timed(action) -> tuple[object, float]:
    started = time.perf_counter()
    result = action()
    return result, (time.perf_counter() - started) * 1000


def draw(
    tg: FakeTelegram,
    chat_id: int,
    prompt: str,
    style: str,
    timeout: float = 120.0,
    *,
    photo: bytes | None = None,
) -> Drawing:
    """Send a prompt (or a `photo`, the prompt its caption), press the style button the bot
    offers, wait for the picture."""
    since = tg.last_seq()

    def send() -> WebhookResult:
        if photo is None:
            return tg.send_text(chat_id=chat_id, user_id=chat_id, text=prompt)
        return tg.send_photo(chat_id, chat_id, photo, caption=prompt or None)

    sent, prompt_ms = _timed(send)
    assert sent.status == 200, f"webhook answered {sent.status}: {sent.body}"
    question = tg.wait_for_call(
        "sendMessage",
        lambda call: (
            str(call.params.get("chat_id")) == str(chat_id) and call.param_json("reply_markup") is not None
        ),
        since=since,
        timeout=timeout,
    )
    buttons = [b for row in question.param_json("reply_markup")["inline_keyboard"] for b in row]
    data = next(b["callback_data"] for b in buttons if b["callback_data"].split(":")[1] == style)
    pressed, press_ms = _timed(lambda: tg.press_button(chat_id, chat_id, question.result["message_id"], data))
    assert pressed.status == 200, f"webhook answered {pressed.status}: {pressed.body}"
    answer = tg.wait_for_call(
        "sendPhoto",
        lambda call: str(call.params.get("chat_id")) == str(chat_id) and call.ok,
        since=since,
        timeout=timeout,
    )
    png = tg.file_bytes(answer.result["photo"][-1]["file_id"])
    job_id = data.split(":")[2]
    timings = {"prompt": prompt_ms, "style button": press_ms}
    return Drawing(job_id, style, answer, png, timings, from_photo=photo is not None)
