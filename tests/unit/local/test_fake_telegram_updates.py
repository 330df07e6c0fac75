"""Building the Updates the fake Bot API delivers: shapes as Telegram sends them."""

from __future__ import annotations

import pytest

from local.fake_telegram import _updates


def test_a_leading_command_gets_a_bot_command_entity() -> None:
    assert _updates.command_entities("/start") == [{"offset": 0, "length": 6, "type": "bot_command"}]
    assert _updates.command_entities("/style@imagebot_local_bot pixel") == [
        {"offset": 0, "length": 25, "type": "bot_command"}
    ]


def test_text_without_a_leading_command_has_no_entities() -> None:
    assert _updates.command_entities("a cat /start") == []
    assert _updates.command_entities("/") == []


def test_text_message_has_telegram_fields_and_no_entities_key_for_plain_text() -> None:
    sender = _updates.user(42, first_name="Ada", language_code="de")
    chat = _updates.chat(42, "private", sender)

    message = _updates.text_message(message_id=5, date=1_700_000_000, chat=chat, sender=sender, text="a cat")

    assert message == {
        "message_id": 5,
        "from": {"id": 42, "is_bot": False, "first_name": "Ada", "language_code": "de"},
        "chat": {"id": 42, "first_name": "Ada", "type": "private"},
        "date": 1_700_000_000,
        "text": "a cat",
    }


def test_a_reply_nests_one_level_only() -> None:
    sender = _updates.user(42)
    chat = _updates.chat(42, "private", sender)
    first = _updates.text_message(message_id=1, date=1, chat=chat, sender=sender, text="one")
    second = _updates.text_message(message_id=2, date=2, chat=chat, sender=sender, text="two", reply_to=first)

    third = _updates.text_message(
        message_id=3, date=3, chat=chat, sender=sender, text="three", reply_to=second
    )

    assert third["reply_to_message"]["message_id"] == 2
    assert "reply_to_message" not in third["reply_to_message"]


def test_private_chat_ids_are_the_users_and_group_ids_are_negative() -> None:
    sender = _updates.user(42)

    with pytest.raises(ValueError):
        _updates.chat(43, "private", sender)
    with pytest.raises(ValueError):
        _updates.chat(5, "group", sender)
    assert _updates.chat(-100123, "supergroup", sender)["type"] == "supergroup"


def test_sticker_message_has_a_sticker_and_no_text() -> None:
    sender = _updates.user(42)
    message = _updates.sticker_message(
        message_id=1, date=1, chat=_updates.chat(42, "private", sender), sender=sender
    )

    assert "text" not in message
    assert message["sticker"]["type"] == "regular"
    assert {"file_id", "file_unique_id", "width", "height", "is_animated", "is_video"} <= set(
        message["sticker"]
    )


def test_an_edit_keeps_id_and_date_and_adds_edit_date() -> None:
    sender = _updates.user(42)
    chat = _updates.chat(42, "private", sender)
    original = _updates.text_message(message_id=3, date=100, chat=chat, sender=sender, text="/start")

    edited = _updates.edited(original, text="a dog", edit_date=160)

    assert (edited["message_id"], edited["date"], edited["edit_date"], edited["text"]) == (
        3,
        100,
        160,
        "a dog",
    )
    assert "entities" not in edited


def test_callback_query_carries_message_data_and_a_stable_chat_instance() -> None:
    sender = _updates.user(42)
    chat = _updates.chat(42, "private", sender)
    message = _updates.text_message(message_id=1, date=1, chat=chat, sender=sender, text="Pick")

    one = _updates.callback_query(query_id="q1", sender=sender, message=message, data="style:pixel")
    two = _updates.callback_query(query_id="q2", sender=sender, message=message, data="style:ghibli")

    assert one["message"] == message
    assert one["data"] == "style:pixel"
    assert one["chat_instance"] == two["chat_instance"]


def test_update_kind_and_the_default_allowed_updates() -> None:
    update = _updates.update(7, "edited_message", {"message_id": 1})

    assert update == {"update_id": 7, "edited_message": {"message_id": 1}}
    assert _updates.update_kind(update) == "edited_message"
    assert _updates.is_delivered("edited_message", None)
    assert _updates.is_delivered("edited_message", [])
    assert not _updates.is_delivered("chat_member", None)
    assert not _updates.is_delivered("edited_message", ["message", "callback_query"])
