"""Inline mode's answers and chosen results: pure."""

from imagebot.core import inline
from imagebot.core.updates import ChosenInline, InlineQuery, decode_event, encode_event, parse_update
from imagebot.core.vocabulary import STYLES

HISTORY = [
    {"job_id": "u3", "file_id": "F3", "style": "pixel", "prompt": "A red Fox in snow"},
    {"job_id": "u2", "file_id": "F2", "style": "ghibli", "prompt": "a paper boat"},
    {"job_id": "u1", "file_id": "F1", "style": "realistic", "prompt": "a fox at dusk"},
    {"job_id": "u0", "style": "realistic", "prompt": "no file id: never shown"},
]


def test_history_matches_every_word_case_insensitively_newest_first():
    found = inline.history_pictures(HISTORY, "fox")
    assert [p.file_id for p in found] == ["F3", "F1"]
    assert [p.file_id for p in inline.history_pictures(HISTORY, "FOX snow")] == ["F3"]
    assert [p.file_id for p in inline.history_pictures(HISTORY, "")] == ["F3", "F2", "F1"]


def test_an_answer_has_each_picture_once_then_a_draw_result_per_style():
    pictures = [*inline.history_pictures(HISTORY, "fox"), inline.Picture("c:pixel", "F3", "pixel", "fox")]
    call = inline.answer("q1", "a fox", "en", pictures)
    assert call["method"] == "answerInlineQuery" and call["inline_query_id"] == "q1"
    assert call["is_personal"] and call["cache_time"] == 0
    results = call["results"]
    assert [r["id"] for r in results] == ["h:u3", "h:u1", *(f"draw:{s}" for s in STYLES)]
    assert results[0]["type"] == "photo" and results[0]["photo_file_id"] == "F3"
    draw = results[-1]
    assert draw["type"] == "article" and draw["title"] == "🎨 Draw in Pixel Art"
    assert draw["input_message_content"]["message_text"] == "🎨 Drawing “a fox” in Pixel Art…"
    # The keyboard is what makes Telegram give the chosen result an inline_message_id.
    assert draw["reply_markup"]["inline_keyboard"][0][0]["switch_inline_query_current_chat"] == "a fox"
    assert len({r["id"] for r in results}) == len(results) <= 50
    assert all(len(r["id"].encode()) <= 64 for r in results)


def test_words_the_bot_would_not_draw_get_no_draw_results():
    assert inline.drawable("x", 2, 500) is None and inline.drawable("a fox", 2, 500).prompt == "a fox"
    assert inline.answer("q1", None, "ru", [])["results"] == []


def test_only_a_draw_result_names_a_style():
    assert [inline.style_to_draw(inline.draw_result_id(s)) for s in STYLES] == list(STYLES)
    assert inline.style_to_draw("h:u3") is None and inline.style_to_draw("draw:oil") is None


def test_inline_updates_parse_and_a_choice_travels_to_the_worker():
    query = parse_update(
        {
            "update_id": 5,
            "inline_query": {"id": "q9", "from": {"id": 7, "language_code": "ru"}, "query": "кот"},
        }
    )
    assert query == InlineQuery(5, "q9", 7, "кот", "ru")
    chosen = parse_update(
        {
            "update_id": 6,
            "chosen_inline_result": {
                "result_id": "draw:pixel",
                "from": {"id": 7},
                "query": "a cat",
                "inline_message_id": "AAE-x",
            },
        }
    )
    assert isinstance(chosen, ChosenInline) and chosen.inline_message_id == "AAE-x"
    assert decode_event(encode_event(chosen)) == chosen
