import pytest
from imagebot.core import keyboards


def buttons(markup):
    return [button for row in markup["inline_keyboard"] for button in row]


def test_style_question_offers_the_three_styles_for_the_job():
    assert [b["callback_data"] for b in buttons(keyboards.style_question("u1"))] == [
        "style:ghibli:u1",
        "style:realistic:u1",
        "style:pixel:u1",
    ]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_photo_actions_offer_again_original_the_two_other_styles_a_grid_and_all_styles(language):
    data = [b["callback_data"] for b in buttons(keyboards.photo_actions("u" + "9" * 20, "ghibli", language))]
    assert data == [
        "again:u99999999999999999999",
        "file:u99999999999999999999",
        "other:realistic:u99999999999999999999",
        "other:pixel:u99999999999999999999",
        "same:realistic:u99999999999999999999",
        "same:pixel:u99999999999999999999",
        "grid:u99999999999999999999",
        "all:u99999999999999999999",
    ]


def test_a_translated_photo_offers_what_it_was_drawn_from():
    plain = buttons(keyboards.photo_actions("u1", "pixel", "en"))
    translated = buttons(keyboards.photo_actions("u1", "pixel", "ru", drawn_as=True))
    assert [b["callback_data"] for b in translated] == [b["callback_data"] for b in plain][:2] + [
        "drawn:u1"
    ] + [b["callback_data"] for b in plain][2:]
    assert translated[2]["text"] == "🔤 Как нарисовано"


def test_every_callback_fits_telegrams_64_bytes_and_parses_back():
    longest_job = "u" + "9" * 39
    markups = [
        keyboards.photo_actions(longest_job, "realistic", "ru", drawn_as=True),
        keyboards.settings_menu("pixel", "landscape", "ru"),
        keyboards.language_menu("ru"),
        keyboards.retry(longest_job, "en"),
    ]
    for button in (b for markup in markups for b in buttons(markup)):
        assert len(button["callback_data"].encode()) <= 64
        assert keyboards.parse(button["callback_data"]) is not None


def test_menus_tick_the_current_choice():
    texts = [b["text"] for b in buttons(keyboards.settings_menu("pixel", "portrait", "en"))]
    assert texts == [
        "Ghibli Art",
        "Realistic",
        "✓ Pixel Art",
        "Square",
        "✓ Portrait",
        "Landscape",
        "✓ One at a time",
        "Four at a time (2x2)",
    ]
    four = [b["text"] for b in buttons(keyboards.settings_menu(None, "square", "ru", candidates=4))]
    assert four[-2:] == ["По одной", "✓ По четыре (2x2)"]
    assert [b["text"] for b in buttons(keyboards.language_menu("ru"))] == ["English", "✓ Русский"]


def test_invalid_callbacks_cannot_be_built():
    with pytest.raises(ValueError):
        keyboards.encode("style", "cubism", "u1")
    with pytest.raises(ValueError):
        keyboards.encode("again", "u" + "1" * 80)


def test_the_command_menu_fits_telegrams_limits_in_every_language():
    from imagebot.core.registry import COMMANDS, menu
    from imagebot.core.texts import CATALOGUE

    for language in CATALOGUE:
        entries = menu(language)
        assert [entry["command"] for entry in entries] == [c.name for c in COMMANDS if c.in_menu]
        assert all(1 <= len(entry["description"]) <= 256 for entry in entries)
