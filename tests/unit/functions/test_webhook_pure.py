from imagebot.config import Settings
from imagebot.updates import Command
from imagebot.webhook import command_reply, secret_matches

SETTINGS = Settings(project="p", bot_token="123456:TEST-TOKEN", webhook_secret="s3cret", images_bucket="b")


def test_secret_must_match_exactly():
    assert secret_matches("s3cret", "s3cret")
    assert not secret_matches("s3cre", "s3cret")
    assert not secret_matches(None, "s3cret")
    assert not secret_matches("", "s3cret")


def test_start_and_help_are_answered_in_the_users_language():
    start = command_reply(Command(1, 7, "start", "ru", "Аня"), SETTINGS)
    assert start["method"] == "sendMessage" and start["chat_id"] == 7
    assert start["text"].startswith("Привет, Аня!")
    helped = command_reply(Command(1, 7, "help", "en", ""), SETTINGS)
    assert "2–500 characters" in helped["text"]


def test_names_are_escaped_and_unknown_commands_get_a_hint():
    start = command_reply(Command(1, 7, "start", "en", "<script>"), SETTINGS)
    assert "&lt;script&gt;" in start["text"]
    assert "don't know that command" in command_reply(Command(1, 7, "paint", "en"), SETTINGS)["text"]


def test_settings_repr_hides_secrets():
    assert "TEST-TOKEN" not in repr(SETTINGS) and "s3cret" not in repr(SETTINGS)
