import pytest

from imagebot.keyboards import style_choice_data, style_keyboard
from imagebot.updates import (
    Command,
    Ignored,
    MalformedUpdate,
    NotText,
    Prompt,
    StyleChosen,
    decode_event,
    encode_event,
    parse_update,
)

USER = {"id": 7, "is_bot": False, "first_name": "Ann", "language_code": "ru"}
PRIVATE = {"id": 7, "type": "private"}
GROUP = {"id": -100, "type": "group"}


def message(text=None, chat=PRIVATE, **extra):
    body = {"message_id": 5, "date": 1, "chat": chat, "from": USER, **extra}
    if text is not None:
        body["text"] = text
    return {"update_id": 10, "message": body}


def test_text_in_private_chat_is_a_prompt():
    event = parse_update(message("a red fox"))
    assert isinstance(event, Prompt)
    assert (event.chat_id, event.user_id, event.message_id, event.text, event.language_code) == (7, 7, 5, "a red fox", "ru")


def test_commands_are_recognised_with_or_without_the_bot_name():
    assert parse_update(message("/start")) == Command(10, 7, "start", "ru", "Ann")
    assert parse_update(message("/HELP@ImageBot", chat=GROUP)).name == "help"


def test_stickers_get_a_hint_in_private_and_silence_in_groups():
    assert isinstance(parse_update(message(sticker={"file_id": "x"})), NotText)
    assert isinstance(parse_update(message(sticker={"file_id": "x"}, chat=GROUP)), Ignored)


def test_group_text_that_is_not_a_command_is_ignored():
    assert isinstance(parse_update(message("hello all", chat=GROUP)), Ignored)


def test_edited_messages_and_other_kinds_are_ignored():
    edited = {"update_id": 11, "edited_message": message("x")["message"]}
    assert parse_update(edited) == Ignored(11, "unhandled update kind edited_message")
    assert isinstance(parse_update({"update_id": 12, "my_chat_member": {}}), Ignored)


def test_style_button_press_becomes_a_style_choice():
    update = {
        "update_id": 13,
        "callback_query": {
            "id": "cb1",
            "from": USER,
            "message": {"message_id": 6, "chat": PRIVATE, "date": 1},
            "data": style_choice_data("pixel", "u10"),
        },
    }
    event = parse_update(update)
    assert isinstance(event, StyleChosen)
    assert (event.job_id, event.style, event.callback_query_id, event.chat_id) == ("u10", "pixel", "cb1", 7)


def test_foreign_callback_data_is_ignored():
    update = {"update_id": 14, "callback_query": {"id": "c", "from": USER, "message": {"chat": PRIVATE}, "data": "style:cubism:u1"}}
    assert isinstance(parse_update(update), Ignored)


@pytest.mark.parametrize("bad", [[], {"update_id": "1"}, {"message": {}}, {"update_id": 1, "message": {"text": "x"}}])
def test_malformed_updates_are_refused(bad):
    with pytest.raises(MalformedUpdate):
        parse_update(bad)


def test_published_events_round_trip():
    prompt = parse_update(message("кот в шляпе"))
    assert decode_event(encode_event(prompt)) == prompt


@pytest.mark.parametrize("body", [b"not json", b'{"v": 2, "kind": "prompt"}', b'{"v": 1, "kind": "poem"}', b'{"v": 1, "kind": "prompt"}'])
def test_undecodable_events_are_refused(body):
    with pytest.raises(MalformedUpdate):
        decode_event(body)


def test_style_keyboard_fits_telegram_limits():
    rows = style_keyboard("u" + "9" * 19)["inline_keyboard"]
    buttons = [button for row in rows for button in row]
    assert [b["text"] for b in buttons] == ["Ghibli Art", "Realistic", "Pixel Art"]
    assert all(len(b["callback_data"].encode()) <= 64 for b in buttons)
