"""✖ Cancel, inline mode and group etiquette through the whole local stack, each ending with what
the fake Bot API saw: a cancelled job's quota comes back before drawing and its picture never
arrives; an inline query is answered within the webhook's own reply; a chosen inline result ends
in editMessageMedia with the picture; in a group, only the requester's presses do anything."""

from __future__ import annotations

import json
import os
import signal
import time
from typing import Any

import pytest
from google.cloud import firestore, storage

from local.fake_telegram_client import FakeTelegram, RecordedCall
from local.stack import FAKE_BOT_USERNAME, LocalStack
from tests.conftest import PROJECT
from tests.e2e.conftest import E2E_BUCKET
from tests.e2e.test_faults import PHOTO_TIMEOUT, fresh_update_id, gpu_frozen, in_chat, on_state, photos
from tests.support.events import unique_ids
from tests.support.waits import nothing_more_for, published, wait_until

pytestmark = pytest.mark.e2e
chats = unique_ids(23_000_000)
CANCELLED = "✖ Cancelled."


@pytest.fixture(scope="module")
def db(stack: LocalStack) -> firestore.Client:
    return firestore.Client(project=PROJECT)


def job(db: firestore.Client, job_id: str) -> dict[str, Any]:
    return db.collection("jobs").document(job_id).get().to_dict() or {}


def outputs_of(job_id: str) -> list[str]:
    return [
        blob.name
        for blob in storage.Client(project=PROJECT).bucket(E2E_BUCKET).list_blobs(prefix=f"outputs/{job_id}.")
    ]


def used_today(db: firestore.Client, user_id: int) -> int:
    user = db.collection("users").document(str(user_id)).get().to_dict() or {}
    return int((user.get("quota") or {}).get("used_today", 0))


def cancel_button(call: RecordedCall) -> str | None:
    rows = (call.param_json("reply_markup") or {}).get("inline_keyboard") or []
    return next(
        (b["callback_data"] for row in rows for b in row if b["callback_data"].startswith("cancel:")), None
    )


def status_with_cancel(telegram: FakeTelegram, chat_id: int, since: int) -> RecordedCall:
    return telegram.wait_for_call(
        "sendMessage", lambda c: in_chat(chat_id, ok=True)(c) and cancel_button(c), since=since, timeout=60
    )


def gpu_done_with(stack: LocalStack, job_id: str) -> list[dict[str, Any]]:
    """The GPU service's log lines that end its work on the job (drawn and stored, or skipped)."""
    lines = stack.supervisor.log_path("gpu_service").read_text(errors="replace").splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    return [r for r in records if r.get("job_id") == job_id and ("outcome" in r or "cancel" in r["message"])]


def press_cancel(telegram: FakeTelegram, chat_id: int, status: RecordedCall, *, force: bool = False) -> None:
    """`force`: a tap on the button as it was, after it is gone (a double tap)."""
    data = cancel_button(status)
    answer = telegram.press_button(chat_id, chat_id, status.result["message_id"], data, force=force)
    assert answer.reply is not None and answer.reply.params["text"] == "✖ Cancelling…"


def cancelled_status(telegram: FakeTelegram, chat_id: int, since: int) -> RecordedCall:
    return telegram.wait_for_call(
        "editMessageText",
        lambda c: in_chat(chat_id, ok=True)(c) and c.params["text"].startswith(CANCELLED),
        since=since,
        timeout=60,
    )


def test_cancel_before_drawing_gives_the_quota_back_and_no_photo(stack, telegram, db):
    chat_id = next(chats)
    since = telegram.last_seq()
    with gpu_frozen(stack):  # the job waits in the queue, as behind a busy GPU
        sent = telegram.send_text(chat_id=chat_id, user_id=chat_id, text=f"/pixel a brass owl {chat_id}")
        job_id = f"u{sent.update_id}"
        status = status_with_cancel(telegram, chat_id, since)
        assert cancel_button(status) == f"cancel:{job_id}" and job(db, job_id)["state"] == "queued"
        assert used_today(db, chat_id) == 1
        press_cancel(telegram, chat_id, status)
        done = cancelled_status(telegram, chat_id, since)
        assert done.params["text"] == "✖ Cancelled. It doesn't count towards today's limit."
        assert job(db, job_id)["state"] == "cancelled" and used_today(db, chat_id) == 0
        press_cancel(telegram, chat_id, status, force=True)  # a second tap gives nothing back twice
    wait_until(lambda: gpu_done_with(stack, job_id), PHOTO_TIMEOUT, "the GPU done with the job")
    nothing_more_for(stack, lambda: job(db, job_id)["state"] == "cancelled")
    assert photos(telegram, chat_id, since) == []
    assert job(db, job_id)["state"] == "cancelled" and used_today(db, chat_id) == 0
    assert outputs_of(job_id) == []  # the GPU skipped it: nothing drawn


TRIES = 3


def caught_drawing(
    stack: LocalStack, telegram: FakeTelegram, db: firestore.Client
) -> tuple[int, str, int] | None:
    """A new job caught while it is being drawn, the GPU service frozen the moment it marks the
    job generating (a Firestore listener): (chat id, job id, seq before it). None, the GPU going
    on, when the tiny picture was drawn before the freeze landed."""
    group = stack.supervisor.processes["gpu_service"].pid
    chat_id = next(chats)
    since = telegram.last_seq()
    update_id = fresh_update_id(telegram)
    job_id = f"u{update_id}"
    with on_state(db, job_id, {"generating", "generated", "delivered"}) as moved:
        telegram.send_text(
            chat_id=chat_id, user_id=chat_id, text=f"/ghibli a tin robot {chat_id}", update_id=update_id
        )
        assert moved.wait(PHOTO_TIMEOUT), "the GPU never started the job"
        os.killpg(group, signal.SIGSTOP)
    if job(db, job_id)["state"] == "generating":
        return chat_id, job_id, since
    os.killpg(group, signal.SIGCONT)
    return None


def test_cancel_during_drawing_gives_no_photo(stack, telegram, db):
    caught = None
    for _ in range(TRIES):  # a machine fast enough to finish the picture first gets a new one
        if caught := caught_drawing(stack, telegram, db):
            break
    assert caught, f"the GPU drew every picture before it could be frozen ({TRIES} tries)"
    chat_id, job_id, since = caught
    try:
        status = status_with_cancel(telegram, chat_id, since)
        press_cancel(telegram, chat_id, status)
        done = cancelled_status(telegram, chat_id, since)
    finally:
        os.killpg(stack.supervisor.processes["gpu_service"].pid, signal.SIGCONT)
    assert done.params["text"] == "✖ Cancelled. I won't send this picture."
    assert used_today(db, chat_id) == 1  # drawing had started: it counts
    wait_until(lambda: gpu_done_with(stack, job_id), PHOTO_TIMEOUT, "the GPU done with the job")
    nothing_more_for(stack, lambda: job(db, job_id)["state"] == "cancelled")
    assert photos(telegram, chat_id, since) == []
    assert job(db, job_id)["state"] == "cancelled"
    assert outputs_of(job_id) == []  # drawn, and dropped before it was written


def test_an_inline_query_is_answered_within_the_webhooks_reply(stack, telegram):
    user_id = next(chats)
    started = time.monotonic()
    sent = telegram.send_inline_query(user_id, f"a glass lighthouse {user_id}")
    took = time.monotonic() - started
    assert sent.delivery.status == 200 and sent.delivery.reply is not None
    assert sent.delivery.reply.method == "answerInlineQuery" and sent.delivery.reply.ok
    assert sent.delivery.reply.via_webhook_response
    results = telegram.inline_answer(sent.inline_query_id)
    assert [r["id"] for r in results] == ["draw:ghibli", "draw:realistic", "draw:pixel"]
    print(f"inline query: webhook delivery and answer in {took * 1000:.0f} ms")
    assert took < 5.0  # the fake lets a query expire after 10 s, as Telegram does within seconds


def test_a_chosen_inline_result_ends_in_edit_message_media_with_the_picture(stack, telegram):
    user_id, group = next(chats), -next(chats)
    sent = telegram.send_inline_query(user_id, f"a paper crane {user_id}", chat_type="group")
    chosen = telegram.choose_inline_result(user_id, sent.inline_query_id, "draw:pixel", chat_id=group)
    assert chosen.delivery.status == 200 and chosen.inline_message_id
    assert chosen.message["text"] == f"🎨 Drawing “a paper crane {user_id}” in Pixel Art…"

    edit = telegram.wait_for_media_edit(inline_message_id=chosen.inline_message_id, timeout=PHOTO_TIMEOUT)
    media = edit.param_json("media")
    # By file id (an inline message takes no upload): the photo sent to the user's own chat.
    [private] = [call for call in telegram.calls("sendPhoto") if call.ok and in_chat(user_id)(call)]
    assert media["type"] == "photo" and media["media"] == private.result["photo"][-1]["file_id"]
    placed = telegram.message(group, chosen.message["message_id"])
    assert placed["photo"][-1]["file_id"] == media["media"] and "text" not in placed
    assert placed["caption"].startswith("Pixel Art · seed ")
    statuses = [
        c.params["text"]
        for c in telegram.calls("editMessageText")
        if c.ok and c.params.get("inline_message_id") == chosen.inline_message_id
    ]
    assert statuses and statuses[0].startswith("⏳ Pixel Art")


def test_in_a_group_only_the_requester_may_press_the_buttons_of_their_picture(
    stack, telegram, db, prompts_tap
):
    group, asker, other = -next(chats), next(chats), next(chats)
    text = f"/pixel@{FAKE_BOT_USERNAME} a copper kettle {asker}"
    telegram.send_text(chat_id=group, user_id=asker, text=text, chat_type="supergroup")
    photo = telegram.wait_for_call("sendPhoto", in_chat(group, ok=True), timeout=PHOTO_TIMEOUT)
    # Delivery removes the status message just after the photo: let it, before the presses.
    telegram.wait_for_call("deleteMessage", in_chat(group), since=photo.seq, timeout=30)
    rows = photo.param_json("reply_markup")["inline_keyboard"]
    buttons = [button["callback_data"] for row in rows for button in row]
    since = telegram.last_seq()
    pressed = [telegram.press_button(group, other, photo.result["message_id"], data) for data in buttons]
    assert {p.reply.params["text"] for p in pressed} == {
        "Only the one who asked for this picture can use its buttons."
    }
    assert published(prompts_tap, *(p.update_id for p in pressed)) == []  # nothing happens
    assert [c for c in telegram.calls(since=since) if in_chat(group)(c)] == []

    again = telegram.press_button(group, asker, photo.result["message_id"], buttons[0])
    assert again.reply.params["text"] == "🔁 Drawing again…"
    second = telegram.wait_for_call("sendPhoto", in_chat(group, ok=True), since=since, timeout=PHOTO_TIMEOUT)
    assert second.params["caption"].startswith("<b>Pixel Art</b>")
