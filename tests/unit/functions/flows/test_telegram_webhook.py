import json

import pytest
from imagebot.config import ConfigError, Settings
from imagebot.core.updates import TEXT_MAX_CHARS, Button, Command, Photo, decode_event
from imagebot.flows.telegram_webhook import (
    button_answer,
    command_reply,
    handle_update,
    needs_worker,
    secret_matches,
)
from imagebot.runtime import Runtime

from tests.support.fakes import SETTINGS, FakePublisher


def no_choice(user_id):
    return {}


def command(name, language="en", user_id=7, first_name=""):
    return Command(1, 7, user_id, 3, name, "", language, first_name)


def test_secret_must_match_exactly():
    assert secret_matches("s3cret", "s3cret")
    assert not secret_matches("s3cre", "s3cret")
    assert not secret_matches(None, "s3cret")
    assert not secret_matches("", "s3cret")


def test_start_welcomes_in_the_clients_language_with_the_style_buttons():
    start = command_reply(command("start", "ru", first_name="Аня"), SETTINGS, no_choice)
    assert start["method"] == "sendMessage" and start["chat_id"] == 7
    assert start["text"].startswith("Привет, Аня!")
    assert [b["callback_data"] for b in start["reply_markup"]["inline_keyboard"][0]] == [
        "default:ghibli",
        "default:realistic",
        "default:pixel",
    ]


def test_a_language_chosen_with_lang_beats_the_clients_language():
    helped = command_reply(command("help", "en"), SETTINGS, lambda user_id: {"language": "ru"})
    assert "Как это работает" in helped["text"] and "2–500 символов" in helped["text"]


def test_a_failing_language_lookup_still_answers():
    def broken(user_id):
        raise TimeoutError("firestore is slow")

    assert "How it works" in command_reply(command("help"), SETTINGS, broken)["text"]


def test_names_are_escaped_and_unknown_commands_and_bare_shortcuts_get_hints():
    assert (
        "&lt;script&gt;"
        in command_reply(command("start", first_name="<script>"), SETTINGS, no_choice)["text"]
    )
    assert "don't know that command" in command_reply(command("paint"), SETTINGS, no_choice)["text"]
    assert "/pixel a cat in a hat" in command_reply(command("pixel"), SETTINGS, no_choice)["text"]


def test_state_commands_go_to_the_worker_and_operator_commands_only_for_operators():
    assert needs_worker(command("style"), SETTINGS) and needs_worker(command("history"), SETTINGS)
    assert not needs_worker(command("start"), SETTINGS)
    assert not needs_worker(command("stats", user_id=7), SETTINGS)
    assert needs_worker(command("stats", user_id=99), SETTINGS)
    assert "don't know" in command_reply(command("pause", user_id=7), SETTINGS, no_choice)["text"]


def test_button_toasts_say_what_happens():
    def press(action, *args, language="en"):
        return button_answer(Button(1, 7, 7, 3, "cb", action, args, language), language)

    assert press("style", "pixel") == "Pixel Art ✓"
    assert press("again", "u1") == "🔁 Drawing again…"
    assert press("same", "realistic", "u1") == "🎨 Realistic…"
    assert press("aspect", "portrait", language="ru") == "Вертикальный ✓"
    assert press("aspect", "landscape", language="ru") == "Горизонтальный ✓"
    assert press("lang", "ru") == "Русский ✓"


def test_settings_repr_hides_secrets():
    assert "TEST-TOKEN" not in repr(SETTINGS) and "s3cret" not in repr(SETTINGS)


def test_each_function_starts_with_only_the_secret_it_uses_and_refuses_without_it():
    # terraform/secrets.tf: the webhook is given the webhook secret alone, the others the token.
    webhook_env = {"GOOGLE_CLOUD_PROJECT": "p", "IMAGES_BUCKET": "b", "TELEGRAM_WEBHOOK_SECRET": "s3cret"}
    assert Settings.from_env(webhook_env).bot_token == ""
    worker = Settings.from_env({**webhook_env, "TELEGRAM_WEBHOOK_SECRET": "", "TELEGRAM_BOT_TOKEN": "1:T"})
    # Without a configured secret nothing gets through, not even an empty header.
    assert not secret_matches("", worker.webhook_secret) and not secret_matches("x", "")
    with pytest.raises(ConfigError, match="TELEGRAM_BOT_TOKEN"):
        _ = Runtime(Settings.from_env(webhook_env)).bot


def test_prompt_max_chars_stays_within_what_the_webhook_lets_through():
    env = {"GOOGLE_CLOUD_PROJECT": "p", "IMAGES_BUCKET": "b"}
    assert (
        Settings.from_env({**env, "PROMPT_MAX_CHARS": str(TEXT_MAX_CHARS)}).prompt_max_chars == TEXT_MAX_CHARS
    )
    for limit in (0, TEXT_MAX_CHARS + 1):
        with pytest.raises(ConfigError, match="PROMPT_MAX_CHARS"):
            Settings.from_env({**env, "PROMPT_MAX_CHARS": str(limit)})


def test_commands_answered_in_the_response_go_to_the_topic_they_came_from():
    asked = Command(1, -100, 7, 3, "help", "", "en", message_thread_id=42)
    helped = command_reply(asked, SETTINGS, no_choice)
    assert (helped["chat_id"], helped["message_thread_id"]) == (-100, 42)
    assert helped["reply_parameters"]["message_id"] == 3  # in a group, quoting the command
    private = command_reply(command("help"), SETTINGS, no_choice)
    assert "message_thread_id" not in private and "reply_parameters" not in private


def test_start_ticks_the_default_style_already_chosen_and_does_not_offer_to_ask():
    def chose_pixel(user_id):
        return {"default_style": "pixel", "language": "ru"}

    start = command_reply(command("start", first_name="Аня"), SETTINGS, chose_pixel)
    labels = [b["text"] for b in start["reply_markup"]["inline_keyboard"][0]]
    assert labels == ["Ghibli Art", "Realistic", "✓ Pixel Art"]
    assert "отмечен" in start["text"] and "каждый раз" not in start["text"]
    english = command_reply(command("start"), SETTINGS, lambda user_id: {"default_style": "ghibli"})
    assert "ticked" in english["text"] and "ask each time" not in english["text"]
    fresh = command_reply(command("start"), SETTINGS, no_choice)
    assert "ask each time" in fresh["text"] and not any(
        b["text"].startswith("✓") for b in fresh["reply_markup"]["inline_keyboard"][0]
    )


@pytest.mark.parametrize("language", ["en", "ru"])
def test_start_and_help_say_that_photos_work(language):
    start = command_reply(command("start", language), SETTINGS, no_choice)["text"]
    helped = command_reply(command("help", language), SETTINGS, no_choice)["text"]
    word = {"en": "photo", "ru": "фото"}[language]
    assert word in start and word in helped and "--no" in helped


def test_a_photo_is_published_for_the_worker_and_a_sticker_is_told_photos_or_text():
    def update(update_id, **media):
        sender = {"id": 7, "is_bot": False, "first_name": "Ann", "language_code": "ru"}
        chat = {"id": 7, "type": "private"}
        message = {"message_id": 5, "date": 1, "chat": chat, "from": sender, **media}
        return json.dumps({"update_id": update_id, "message": message}).encode()

    publisher = FakePublisher()
    sizes = [{"file_id": "big", "file_unique_id": "b", "width": 1280, "height": 960, "file_size": 9}]
    assert handle_update(update(1, photo=sizes, caption="hi"), SETTINGS, publisher, no_choice).status == 200
    ((topic, data, attributes),) = publisher.published
    event = decode_event(data)
    assert (topic, attributes["kind"]) == ("prompts", "photo")
    assert isinstance(event, Photo) and (event.file_id, event.caption) == ("big", "hi")
    sticker = handle_update(update(2, sticker={"file_id": "s"}), SETTINGS, publisher, no_choice)
    assert sticker.body["text"] == "Я рисую по тексту или по фото. Пришлите описание словами или фотографию."
    assert len(publisher.published) == 1
