"""The chat as a user lives it, through the whole local stack: shortcuts, progress, buttons
under the photo, groups, hostile text."""

from __future__ import annotations

import re

import pytest

from local.stack import FAKE_BOT_USERNAME
from tests.support.events import unique_ids
from tests.support.waits import published

pytestmark = pytest.mark.e2e
chats = unique_ids(21_000_000)


def in_chat(chat_id: int):
    return lambda call: str(call.params.get("chat_id")) == str(chat_id)


def chat_calls(telegram, chat_id: int, since: int = 0) -> list:
    return [call for call in telegram.calls(since=since) if in_chat(chat_id)(call)]


def test_a_shortcut_draws_at_once_and_the_status_moves_in_order(telegram):
    chat_id = next(chats)
    telegram.send_text(chat_id=chat_id, user_id=chat_id, text="/pixel a castle on a hill")
    photo = telegram.wait_for_call("sendPhoto", in_chat(chat_id), timeout=60)
    assert photo.params["caption"].startswith("<b>Pixel Art</b> · seed ")
    telegram.wait_for_call("deleteMessage", in_chat(chat_id), timeout=10)

    story = [(call.method, call.params.get("text", "")) for call in chat_calls(telegram, chat_id) if call.ok]
    methods = [method for method, _ in story]
    assert not any("Which style" in text for _, text in story)  # the shortcut skipped the question
    queued = methods.index("sendMessage")
    drawing = next(
        i for i, (m, text) in enumerate(story) if m == "editMessageText" and text.startswith("🎨 Drawing")
    )
    assert queued < drawing < methods.index("sendPhoto") < methods.index("deleteMessage")
    assert story[queued][1].startswith("⏳ Pixel Art: you're")
    assert "sendChatAction" in methods[queued : methods.index("sendPhoto")]


def test_again_under_the_photo_draws_a_new_seed_and_same_seed_keeps_it(telegram):
    chat_id = next(chats)
    telegram.send_text(chat_id=chat_id, user_id=chat_id, text="/ghibli a paper boat")
    first = telegram.wait_for_call("sendPhoto", in_chat(chat_id), timeout=60)
    keyboard = first.param_json("reply_markup")["inline_keyboard"]
    seed = re.search(r"seed (\d+)", first.params["caption"]).group(1)

    since = telegram.last_seq()
    again = keyboard[0][0]["callback_data"]
    answer = telegram.press_button(chat_id, chat_id, first.result["message_id"], again)
    assert answer.reply.method == "answerCallbackQuery"
    second = telegram.wait_for_call("sendPhoto", in_chat(chat_id), since=since, timeout=60)
    assert second.params["caption"].startswith("<b>Ghibli Art</b>")
    assert re.search(r"seed (\d+)", second.params["caption"]).group(1) != seed

    since = telegram.last_seq()
    same_seed_pixel = next(
        b["callback_data"] for b in keyboard[2] if b["callback_data"].startswith("same:pixel:")
    )
    telegram.press_button(chat_id, chat_id, first.result["message_id"], same_seed_pixel)
    third = telegram.wait_for_call("sendPhoto", in_chat(chat_id), since=since, timeout=60)
    assert third.params["caption"].startswith(f"<b>Pixel Art</b> · seed {seed}\n")


def test_in_a_group_the_bot_answers_mentions_and_ignores_chatter(telegram, prompts_tap):
    group, member = -next(chats), next(chats)
    chatter = telegram.send_text(
        chat_id=group, user_id=member, text="lovely weather today", chat_type="supergroup"
    )
    mention = telegram.send_text(
        chat_id=group, user_id=member, text=f"@{FAKE_BOT_USERNAME} a lighthouse", chat_type="supergroup"
    )
    assert chatter.status == mention.status == 200
    question = telegram.wait_for_call("sendMessage", in_chat(group), timeout=30)
    assert question.params["text"] == "Which style for “a lighthouse”?"
    telegram.send_text(
        chat_id=group,
        user_id=member,
        text=f"/realistic@{FAKE_BOT_USERNAME} a red tram",
        chat_type="supergroup",
    )
    photo = telegram.wait_for_call("sendPhoto", in_chat(group), timeout=60)
    assert photo.params["caption"].startswith("<b>Realistic</b>")
    other_bot = telegram.send_text(
        chat_id=group, user_id=member, text="/pixel@another_bot a cat", chat_type="supergroup"
    )
    assert other_bot.status == 200
    # Only the mention and the /realistic prompt go on to the worker; what is not published
    # can never be answered.
    assert published(prompts_tap, chatter.update_id, other_bot.update_id, others=2) == []
    texts = [
        call.params.get("text") or call.params.get("caption", "") for call in chat_calls(telegram, group)
    ]
    assert not any("lovely weather" in text or "a cat" in text for text in texts)


def test_hostile_text_arrives_as_text(telegram):
    chat_id = next(chats)
    telegram.send_text(
        chat_id=chat_id, user_id=chat_id, text="/realistic <b>bold</b> & <img src=x onerror=alert(1)>"
    )
    photo = telegram.wait_for_call("sendPhoto", in_chat(chat_id), timeout=60)
    assert photo.ok  # the fake refuses unescaped markup exactly as Telegram does
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;img src=x onerror=alert(1)&gt;" in photo.params["caption"]


def test_in_a_forum_topic_every_answer_stays_in_the_topic(telegram):
    group, member, topic = -next(chats), next(chats), 7
    in_topic = {"chat_type": "supergroup", "message_thread_id": topic}
    telegram.send_text(chat_id=group, user_id=member, text="/pixel a lighthouse", **in_topic)
    photo = telegram.wait_for_call("sendPhoto", in_chat(group), timeout=60)
    telegram.send_text(chat_id=group, user_id=member, text="/pixel a", **in_topic)
    helped = telegram.send_text(chat_id=group, user_id=member, text="/help", **in_topic)
    refusal = telegram.wait_for_call(
        "sendMessage", lambda call: in_chat(group)(call) and "too short" in call.params["text"], timeout=30
    )

    status = next(call for call in chat_calls(telegram, group) if call.method == "sendMessage")
    assert status.params["text"].startswith("⏳ Pixel Art")
    for call, quoted in (
        (status, "/pixel a lighthouse"),
        (photo, "/pixel a lighthouse"),
        (refusal, "/pixel a"),
    ):
        assert call.ok and str(call.params["message_thread_id"]) == str(topic)
        assert call.result["message_thread_id"] == topic  # the fake placed it in the topic
        assert call.result["reply_to_message"]["text"] == quoted
    # /help is answered in the webhook's own response, in the topic too.
    assert helped.reply.method == "sendMessage" and helped.reply.ok
    assert helped.reply.params["message_thread_id"] == topic
