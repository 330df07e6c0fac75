"""What the fake does to outgoing text and markup, as Telegram does."""

from __future__ import annotations

import pytest

from local.fake_telegram import _formatting, _markup
from local.fake_telegram._errors import BotApiError
from local.fake_telegram._params import Params


@pytest.mark.parametrize(
    ("text", "mode", "shown"),
    [
        ("<b>Ready</b> &lt;3 &amp; <i>more</i>", "HTML", "Ready <3 & more"),
        ('<a href="https://example.com">link</a>', "HTML", "link"),
        ("*bold* _italic_ \\. done\\!", "MarkdownV2", "bold italic . done!"),
        ("`code with . and !` [text](https://example.com/a\\)b)", "MarkdownV2", "code with . and ! text"),
        ("*bold* _italic_ [link](https://example.com)", "Markdown", "bold italic link"),
        ("no mode. at all!", None, "no mode. at all!"),
    ],
)
def test_formatted_text_is_shown_as_plain_text(text: str, mode: str | None, shown: str) -> None:
    assert _formatting.plain_text(text, mode) == shown


@pytest.mark.parametrize(
    ("text", "mode", "detail"),
    [
        ("Done.", "MarkdownV2", "Character '.' is reserved"),
        ("1-2", "MarkdownV2", "Character '-' is reserved"),
        ("*bold", "MarkdownV2", "Can't find end of Bold entity at byte offset 0"),
        ("<br>", "HTML", 'Unsupported start tag "br"'),
        ("<b>open", "HTML", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", "HTML", "Unexpected end tag"),
        ("_open", "Markdown", "Can't find end of the entity starting at byte offset 0"),
    ],
)
def test_unparsable_text_is_refused_as_telegram_does(text: str, mode: str, detail: str) -> None:
    with pytest.raises(BotApiError) as raised:
        _formatting.plain_text(text, mode)

    assert raised.value.error_code == 400
    assert raised.value.description.startswith("Bad Request: can't parse entities: ")
    assert detail in raised.value.description


def test_lengths_count_utf16_code_units() -> None:
    assert _formatting.utf16_len("abc") == 3
    assert _formatting.utf16_len("\U0001f3a8") == 2  # outside the BMP: a surrogate pair


def test_message_and_caption_limits() -> None:
    assert _formatting.message_text("  hi  ", None) == "hi"
    with pytest.raises(BotApiError, match="message text is empty"):
        _formatting.message_text("   ", None)
    with pytest.raises(BotApiError, match="message is too long"):
        _formatting.message_text("\U0001f3a8" * 2049, None)
    with pytest.raises(BotApiError, match="message caption is too long"):
        _formatting.caption_text("x" * 1025, None)


def test_inline_keyboard_is_checked_and_shown_on_the_message() -> None:
    keyboard = {"inline_keyboard": [[{"text": "Pixel Art", "callback_data": "style:pixel"}]]}

    assert _markup.shown_on_message(_markup.reply_markup(keyboard)) == keyboard
    assert _markup.shown_on_message(_markup.reply_markup({"remove_keyboard": True})) is None


@pytest.mark.parametrize(
    ("markup", "description"),
    [
        (
            {"inline_keyboard": [[{"text": "x", "callback_data": "é" * 33}]]},
            "Bad Request: BUTTON_DATA_INVALID",
        ),
        (
            {"inline_keyboard": [[{"text": "x", "url": "ftp://example.com"}]]},
            "Bad Request: BUTTON_URL_INVALID",
        ),
        ({"inline_keyboard": [[{"text": "x"}]]}, "Text buttons are unallowed"),
        ({"something": "else"}, "can't parse reply keyboard markup JSON object"),
    ],
)
def test_bad_markup_is_refused(markup: dict[str, object], description: str) -> None:
    with pytest.raises(BotApiError) as raised:
        _markup.reply_markup(markup)

    assert description in raised.value.description


def test_form_parameters_are_parsed_per_parameter() -> None:
    params = Params(
        {"chat_id": "42", "disable_notification": "true", "reply_markup": '{"remove_keyboard": true}'}
    )

    assert params.chat_id() == 42
    assert params.boolean("disable_notification") is True
    assert params.json_value("reply_markup", "bad") == {"remove_keyboard": True}
    with pytest.raises(BotApiError, match="chat not found"):
        Params({"chat_id": "@somechannel"}).chat_id()
    with pytest.raises(BotApiError, match="bad"):
        Params({"reply_markup": "{nope"}).json_value("reply_markup", "bad")


def test_html_entities_nest_in_the_order_their_tags_open() -> None:
    html = '<b>bold <i>both</i></b><i></i> <pre><code class="language-py">x</code></pre>'
    shown = _formatting.formatted(html, "HTML")

    assert shown.text == "bold both x"
    assert shown.entities == [
        {"offset": 0, "length": 9, "type": "bold"},
        {"offset": 5, "length": 4, "type": "italic"},  # the empty <i></i> left no entity
        {"offset": 10, "length": 1, "type": "pre", "language": "py"},
    ]


def test_trimming_moves_and_clips_entities() -> None:
    shown = _formatting.message_formatted("<b>  hi  </b> there ", "HTML")

    assert shown.text == "hi   there"
    assert shown.entities == [{"offset": 0, "length": 4, "type": "bold"}]
    assert _formatting.formatted("*bold*", "MarkdownV2").entities == []  # HTML only, as documented
