import pytest
from imagebot.core import keyboards
from imagebot.core.updates import (
    TEXT_MAX_CHARS,
    Button,
    Command,
    Ignored,
    MalformedUpdate,
    NotDrawable,
    PaymentRefunded,
    Photo,
    PhotoSizeLimits,
    Prompt,
    decode_event,
    encode_event,
    parse_update,
)

BOT = "imagebot_local_bot"
USER = {"id": 7, "is_bot": False, "first_name": "Ann", "language_code": "ru"}
PRIVATE = {"id": 7, "type": "private"}
GROUP = {"id": -100, "type": "supergroup"}


def message(text=None, chat=PRIVATE, **extra):
    body = {"message_id": 5, "date": 1, "chat": chat, "from": USER, **extra}
    if text is not None:
        body["text"] = text
    return {"update_id": 10, "message": body}


def parse(update):
    return parse_update(update, BOT)


def test_text_in_private_chat_is_a_prompt():
    event = parse(message("a red fox"))
    assert isinstance(event, Prompt)
    assert (event.chat_id, event.user_id, event.message_id, event.text, event.style) == (
        7,
        7,
        5,
        "a red fox",
        None,
    )


def test_commands_carry_their_arguments_and_ignore_case():
    event = parse(message("/LIMITS now please"))
    assert isinstance(event, Command) and (event.name, event.args, event.first_name) == (
        "limits",
        "now please",
        "Ann",
    )


@pytest.mark.parametrize("style", ["ghibli", "realistic", "pixel"])
def test_style_shortcuts_with_a_prompt_are_prompts_in_that_style(style):
    event = parse(message(f"/{style} a cat\n--no hats"))
    assert isinstance(event, Prompt) and (event.style, event.text) == (style, "a cat\n--no hats")


def test_a_shortcut_without_a_prompt_is_a_command():
    event = parse(message("/pixel"))
    assert isinstance(event, Command) and (event.name, event.args) == ("pixel", "")


def test_in_groups_commands_for_this_bot_or_no_bot_count_and_others_are_ignored():
    assert parse(message(f"/help@{BOT}", chat=GROUP)).name == "help"
    assert parse(message("/help", chat=GROUP)).name == "help"
    assert isinstance(parse(message("/help@other_bot", chat=GROUP)), Ignored)
    assert parse(message(f"/pixel@{BOT.upper()} a boat", chat=GROUP)).style == "pixel"


def test_in_groups_mentions_and_replies_to_the_bot_are_prompts_and_chatter_is_ignored():
    mention = parse(message(f"@{BOT} a lighthouse", chat=GROUP))
    assert isinstance(mention, Prompt) and mention.text.strip() == "a lighthouse"
    reply = parse(
        message(
            "make it blue",
            chat=GROUP,
            reply_to_message={"message_id": 3, "from": {"id": 1, "is_bot": True, "username": BOT}},
        )
    )
    assert isinstance(reply, Prompt) and reply.text == "make it blue"
    assert isinstance(parse(message("hello all", chat=GROUP)), Ignored)
    assert isinstance(
        parse(
            message(
                "hi", chat=GROUP, reply_to_message={"message_id": 3, "from": {"id": 9, "username": "someone"}}
            )
        ),
        Ignored,
    )


def test_stickers_get_a_hint_in_private_and_silence_in_groups():
    assert isinstance(parse(message(sticker={"file_id": "x"})), NotDrawable)
    assert isinstance(parse(message(sticker={"file_id": "x"}, chat=GROUP)), Ignored)


def test_edited_messages_and_other_kinds_are_ignored():
    edited = {"update_id": 11, "edited_message": message("x")["message"]}
    assert parse(edited) == Ignored(11, "unhandled update kind edited_message")
    assert isinstance(parse({"update_id": 12, "my_chat_member": {}}), Ignored)


def test_button_presses_carry_action_and_arguments():
    update = {
        "update_id": 13,
        "callback_query": {
            "id": "cb1",
            "from": USER,
            "message": {"message_id": 6, "chat": PRIVATE, "date": 1},
            "data": keyboards.encode("same", "pixel", "u10"),
        },
    }
    event = parse(update)
    assert isinstance(event, Button)
    assert (event.action, event.args, event.callback_query_id, event.message_id) == (
        "same",
        ("pixel", "u10"),
        "cb1",
        6,
    )


@pytest.mark.parametrize(
    "data", ["style:cubism:u1", "again", "again:u1:u2", "lang:fr", "nuke:u1", "again:../x"]
)
def test_foreign_or_stale_callback_data_is_ignored(data):
    update = {
        "update_id": 14,
        "callback_query": {
            "id": "c",
            "from": USER,
            "message": {"message_id": 1, "chat": PRIVATE},
            "data": data,
        },
    }
    assert isinstance(parse(update), Ignored)


@pytest.mark.parametrize(
    "bad", [[], {"update_id": "1"}, {"message": {}}, {"update_id": 1, "message": {"text": "x"}}]
)
def test_malformed_updates_are_refused(bad):
    with pytest.raises(MalformedUpdate):
        parse(bad)


@pytest.mark.parametrize("text", ["кот в шляпе", "/style", "/ghibli a fox"])
def test_published_events_round_trip(text):
    event = parse(message(text))
    assert decode_event(encode_event(event)) == event


def test_button_events_round_trip():
    update = {
        "update_id": 15,
        "callback_query": {
            "id": "c",
            "from": USER,
            "message": {"message_id": 1, "chat": PRIVATE},
            "data": "lang:en",
        },
    }
    event = parse(update)
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"v": 2, "kind": "prompt"}', b'{"v": 1, "kind": "poem"}', b'{"v": 1, "kind": "prompt"}'],
)
def test_undecodable_events_are_refused(body):
    with pytest.raises(MalformedUpdate):
        decode_event(body)


def with_ids(update_id=10, chat_id=7, user_id=7, message_id=5):
    update = message("a red fox", chat={**PRIVATE, "id": chat_id})
    update["update_id"] = update_id
    update["message"]["from"] = {**USER, "id": user_id}
    update["message"]["message_id"] = message_id
    return update


@pytest.mark.parametrize(
    "ids",
    [
        {"update_id": 2**63 - 1, "message_id": -(2**63)},
        {"chat_id": -(2**52 - 1), "user_id": 2**52 - 1},
        {"chat_id": -1_001_234_567_890, "user_id": 1_099_511_627_775},  # a supergroup; the top of the range
    ],
)
def test_ids_within_telegrams_ranges_are_taken(ids):
    event = parse(with_ids(**ids))
    assert isinstance(event, Prompt)
    assert decode_event(encode_event(event)) == event


@pytest.mark.parametrize(
    "ids",
    [
        {"update_id": 2**70},
        {"update_id": 2**63},
        {"update_id": -(2**63) - 1},
        {"update_id": True},
        {"update_id": 1.0},
        {"message_id": 2**64},
        {"chat_id": 2**52},
        {"chat_id": -(2**52)},
        {"user_id": 2**63},
        {"user_id": "7"},
    ],
)
def test_ids_past_telegrams_ranges_are_refused(ids):
    with pytest.raises(MalformedUpdate, match="not a Telegram id"):
        parse(with_ids(**ids))


def test_ids_of_a_button_press_are_checked_too():
    update = {
        "update_id": 16,
        "callback_query": {
            "id": "c",
            "from": {**USER, "id": 2**70},
            "message": {"message_id": 1, "chat": PRIVATE},
            "data": "lang:en",
        },
    }
    with pytest.raises(MalformedUpdate, match="not a Telegram id"):
        parse(update)


@pytest.mark.parametrize(
    "change",
    [
        {"text": 5},
        {"text": ["a cat"]},
        {"from": {**USER, "language_code": {"ru": 1}}},
        {"from": "Ann"},
        {"chat": {**PRIVATE, "type": 1}},
        {"chat": GROUP, "reply_to_message": []},
    ],
)
def test_fields_of_the_wrong_type_are_malformed_not_crashes(change):
    update = message("a red fox")
    update["message"].update(change)
    with pytest.raises(MalformedUpdate):
        parse(update)


def test_a_text_longer_than_telegram_sends_is_refused_and_a_long_one_goes_on_to_be_told():
    assert parse(message("a" * TEXT_MAX_CHARS)).text == "a" * TEXT_MAX_CHARS
    with pytest.raises(MalformedUpdate, match="over Telegram's own limit"):
        parse(message("a" * (TEXT_MAX_CHARS + 1)))


def test_a_message_in_a_forum_topic_carries_its_topic_and_round_trips():
    topic = {"message_thread_id": 42, "is_topic_message": True}
    prompt = parse(message(f"@{BOT} a lighthouse", chat=GROUP, **topic))
    command = parse(message("/help", chat=GROUP, **topic))
    assert isinstance(prompt, Prompt) and isinstance(command, Command)
    assert prompt.message_thread_id == command.message_thread_id == 42
    assert decode_event(encode_event(prompt)) == prompt


def test_a_reply_in_a_group_without_topics_has_no_topic():
    # Telegram sets message_thread_id on replies in any supergroup; only a topic message's counts.
    event = parse(message("/help", chat=GROUP, message_thread_id=3))
    assert isinstance(event, Command) and event.message_thread_id is None


def test_a_button_press_under_a_message_in_a_topic_carries_the_topic():
    update = {
        "update_id": 14,
        "callback_query": {
            "id": "cb2",
            "from": USER,
            "message": {
                "message_id": 6,
                "chat": GROUP,
                "date": 1,
                "message_thread_id": 9,
                "is_topic_message": True,
            },
            "data": keyboards.encode("again", "u10"),
        },
    }
    event = parse(update)
    assert isinstance(event, Button) and event.message_thread_id == 9


def test_a_topic_id_past_telegrams_range_is_malformed():
    with pytest.raises(MalformedUpdate):
        parse(message("/help", chat=GROUP, message_thread_id=2**70, is_topic_message=True))


def test_events_published_before_topics_still_decode():
    old = (
        b'{"v": 1, "kind": "command", "update_id": 1, "chat_id": 7, "user_id": 7,'
        b' "message_id": 2, "name": "help"}'
    )
    event = decode_event(old)
    assert isinstance(event, Command) and event.message_thread_id is None


# -- photos ---------------------------------------------------------------------------------------

SIZES = [
    {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 60, "file_size": 1_000},
    {"file_id": "large", "file_unique_id": "l", "width": 1280, "height": 853, "file_size": 200_000},
    {"file_id": "medium", "file_unique_id": "m", "width": 800, "height": 533, "file_size": 90_000},
]


def test_a_photo_is_its_largest_size_with_the_caption_as_the_hint():
    event = parse(message(photo=SIZES, caption="as a watercolour\n--no people"))
    assert isinstance(event, Photo)
    assert (event.file_id, event.caption, event.style, event.media_group_id) == (
        "large",
        "as a watercolour\n--no people",
        None,
        None,
    )
    assert (event.chat_id, event.user_id, event.message_id, event.language_code) == (7, 7, 5, "ru")
    assert decode_event(encode_event(event)) == event


def test_the_largest_size_within_the_limits_is_taken_and_the_smallest_when_none_fits():
    assert parse_update(message(photo=SIZES), BOT, PhotoSizeLimits(max_bytes=100_000)).file_id == "medium"
    assert parse_update(message(photo=SIZES), BOT, PhotoSizeLimits(max_pixels=500_000)).file_id == "medium"
    assert parse_update(message(photo=SIZES), BOT, PhotoSizeLimits(max_bytes=10)).file_id == "small"


@pytest.mark.parametrize("mime", ["image/jpeg", "image/png", "image/webp", "IMAGE/PNG"])
def test_an_image_sent_as_a_file_is_a_photo(mime):
    document = {"file_id": "doc", "file_unique_id": "d", "file_name": "me.png", "mime_type": mime}
    event = parse(message(document=document))
    assert isinstance(event, Photo) and (event.file_id, event.caption) == ("doc", "")


@pytest.mark.parametrize(
    "extra",
    [
        {"document": {"file_id": "d", "mime_type": "application/pdf"}},
        {"document": {"file_id": "d", "mime_type": "image/gif"}},
        {"document": {"file_id": "d"}},
        # A GIF arrives as an animation with a document beside it, which must not pass as a file.
        {"animation": {"file_id": "a"}, "document": {"file_id": "a", "mime_type": "image/png"}},
        {"video": {"file_id": "v"}},
        {"video_note": {"file_id": "v"}},
        {"voice": {"file_id": "v"}},
        {"sticker": {"file_id": "s"}, "photo": SIZES},
    ],
)
def test_other_media_and_files_get_the_photos_or_text_answer(extra):
    assert isinstance(parse(message(**extra)), NotDrawable)
    assert isinstance(parse(message(chat=GROUP, **extra)), Ignored)


@pytest.mark.parametrize("style", ["ghibli", "realistic", "pixel"])
def test_a_style_command_as_the_caption_chooses_the_style(style):
    event = parse(message(photo=SIZES, caption=f"/{style}@{BOT} at night"))
    assert isinstance(event, Photo) and (event.style, event.caption) == (style, "at night")
    assert parse(message(photo=SIZES, caption=f"/{style}")).caption == ""
    assert isinstance(parse(message(photo=SIZES, caption=f"/{style}@other_bot")), Ignored)


def test_album_photos_carry_their_group_and_a_forged_group_is_refused():
    event = parse(message(photo=SIZES, media_group_id="13690452471542688"))
    assert event.media_group_id == "13690452471542688"
    with pytest.raises(MalformedUpdate):
        parse(message(photo=SIZES, media_group_id="../users/7"))


def test_in_groups_a_photo_counts_only_when_meant_for_the_bot():
    assert isinstance(parse(message(photo=SIZES, chat=GROUP)), Ignored)
    assert isinstance(parse(message(photo=SIZES, chat=GROUP, caption="look at this")), Ignored)
    mentioned = parse(message(photo=SIZES, chat=GROUP, caption=f"@{BOT} in the rain"))
    assert isinstance(mentioned, Photo) and mentioned.caption == "in the rain"
    bot_message = {"message_id": 3, "from": {"id": 9, "username": BOT}}
    assert isinstance(parse(message(photo=SIZES, chat=GROUP, reply_to_message=bot_message)), Photo)
    commanded = parse(message(photo=SIZES, chat=GROUP, caption="/ghibli at dawn"))
    assert isinstance(commanded, Photo) and (commanded.style, commanded.caption) == ("ghibli", "at dawn")


@pytest.mark.parametrize(
    "photo",
    [[], [1, 2], [{"file_id": ""}], [{"width": 10, "height": 10}], [{"file_id": "x" * 300}]],
)
def test_a_photo_without_a_usable_file_is_malformed_or_not_a_photo(photo):
    try:
        event = parse(message(photo=photo))
    except MalformedUpdate:
        return
    assert isinstance(event, NotDrawable)  # an empty list: no photo at all


def test_a_photo_in_a_forum_topic_carries_its_topic_and_round_trips():
    topic = {"message_thread_id": 42, "is_topic_message": True}
    event = parse(message(photo=SIZES, chat=GROUP, caption=f"@{BOT} in the rain", **topic))
    assert isinstance(event, Photo) and event.message_thread_id == 42
    assert decode_event(encode_event(event)) == event
    reply = parse(message(photo=SIZES, chat=GROUP, caption=f"@{BOT} x", message_thread_id=3))
    assert isinstance(reply, Photo) and reply.message_thread_id is None  # not a topic message


@pytest.mark.parametrize(
    "service",
    [
        {"pinned_message": {"message_id": 2, "date": 0, "chat": {"id": 7, "type": "private"}}},
        {"write_access_allowed": {}},
    ],
)
def test_a_service_message_in_a_private_chat_is_ignored_not_answered(service):
    """The user said nothing to a service message: nothing to answer."""
    assert isinstance(parse(message(**service)), Ignored)


REFUNDED = {
    "currency": "XTR",
    "total_amount": 50,
    "invoice_payload": "p10:7",
    "telegram_payment_charge_id": "stx-1",
}


def test_a_refunded_payment_is_published_for_the_ledger_and_round_trips():
    """After any refund, the bot's or Telegram's own, the buyer's chat gets a refunded_payment."""
    event = parse(message(refunded_payment=REFUNDED))
    assert isinstance(event, PaymentRefunded)
    assert (event.charge_id, event.total_amount, event.currency) == ("stx-1", 50, "XTR")
    assert (event.invoice_payload, event.user_id, event.chat_id) == ("p10:7", 7, 7)
    assert decode_event(encode_event(event)) == event
    without_sender = message(refunded_payment=REFUNDED)
    del without_sender["message"]["from"]
    assert parse(without_sender).user_id == 7  # the private chat's id is its user's


@pytest.mark.parametrize(
    "broken",
    [
        {"telegram_payment_charge_id": "payments/x"},
        {"telegram_payment_charge_id": None},
        {"total_amount": -5},
        {"invoice_payload": "x" * 200},
        {"currency": ""},
    ],
)
def test_a_refunded_payment_not_as_telegram_sends_it_is_malformed(broken):
    with pytest.raises(MalformedUpdate):
        parse(message(refunded_payment={**REFUNDED, **broken}))


def test_what_a_person_sends_besides_words_and_pictures_still_gets_an_answer():
    for sent in (
        {"location": {"latitude": 1.0, "longitude": 2.0}},
        {"poll": {"id": "p"}},
        {"dice": {"value": 3}},
    ):
        assert isinstance(parse(message(**sent)), NotDrawable)
